"""Every self-check accepts the solution and names the mistake in realistic wrong answers."""

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.metrics import f1_score

from cnnlab import checks, models, train


def rejects(check, answer, message):
    with pytest.raises(checks.SelfCheckError, match=message):
        check(*answer) if isinstance(answer, tuple) else check(answer)


# Exercise 1 ---------------------------------------------------------------------------


def test_conv_layer():
    assert "1.1" in repr(checks.check_conv_layer(nn.Conv2d(3, 2, 3)))


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (None, "operation is still None: replace it with nn.Conv2d"),
        (nn.Conv2d, "operation is the class Conv2d itself"),
        (nn.Conv2d(1, 2, 3), "operation has in_channels=1 but the image has 3 channels"),
        (nn.Conv2d(3, 3, 3), "operation has out_channels=3 but the task asks for 2"),
        (nn.Conv2d(3, 2, 5), r"operation has kernel_size=\(5, 5\)"),
        (nn.Conv2d(3, 2, 3, stride=2), r"operation has stride=\(2, 2\)"),
        (nn.Conv2d(3, 2, 3, padding=1), "start without padding"),
        (nn.Conv1d(3, 2, 3), "operation is Conv1d, not nn.Conv2d"),
        (F.conv2d, "operation is a builtin_function_or_method, not nn.Conv2d"),
    ],
)
def test_conv_layer_rejects(answer, message):
    rejects(checks.check_conv_layer, answer, message)


def test_padded_conv_layer():
    checks.check_padded_conv_layer(nn.Conv2d(3, 2, 3, padding=1))
    checks.check_padded_conv_layer(nn.Conv2d(3, 2, 3, padding="same"))  # PyTorch stores (1, 1)
    rejects(checks.check_padded_conv_layer, nn.Conv2d(3, 2, 3), "a 100x100 image becomes 98x98: pass padding=1")
    rejects(checks.check_padded_conv_layer, nn.Conv2d(3, 2, 3, padding=2), "padding=")
    rejects(checks.check_padded_conv_layer, None, "still None")


def test_pools():
    checks.check_pool_3x3(nn.MaxPool2d(3, stride=1))
    checks.check_pool_4x2(nn.MaxPool2d((4, 2), stride=2))
    checks.check_pool_4x2(nn.MaxPool2d((4, 2), stride=(2, 2)))


@pytest.mark.parametrize(
    ("check", "answer", "message"),
    [
        (checks.check_pool_3x3, nn.MaxPool2d(3), r"stride=\(3, 3\) \(PyTorch's default stride is the kernel size\)"),
        (checks.check_pool_3x3, nn.AvgPool2d(3, stride=1), "maxpoolop is AvgPool2d, not nn.MaxPool2d"),
        (checks.check_pool_3x3, nn.MaxPool2d(2, stride=1), r"kernel_size=\(2, 2\) but the task asks for 3x3"),
        (checks.check_pool_3x3, None, "maxpoolop is still None"),
        (checks.check_pool_4x2, nn.MaxPool2d((2, 4), stride=2), "height and width swapped"),
        (checks.check_pool_4x2, nn.MaxPool2d((4, 2)), r"stride=\(4, 2\) \(PyTorch's default"),
        (checks.check_pool_4x2, nn.MaxPool2d(4, stride=2), r"kernel_size=\(4, 4\) but the task asks for 4x2"),
    ],
)
def test_pools_reject(check, answer, message):
    rejects(check, answer, message)


# Exercise 2.1 -------------------------------------------------------------------------


class Net(models.MNISTNet):
    """The solution, with one thing changed by keyword."""

    def __init__(self, forward="solution", **layers):
        super().__init__()
        for name, layer in layers.items():
            setattr(self, name, layer)
        self.variant = forward

    def forward(self, x):
        if self.variant == "solution":
            return super().forward(x)
        x = F.relu(self.maxpool(self.conv1(x)))
        if self.variant == "no relu in blocks":
            x = self.maxpool(self.conv2(x))
        else:
            x = F.relu(self.maxpool(self.conv2(x)))
        x = x.flatten(1)
        if self.variant == "no relu between fc":
            return self.fc2(self.fc1(x))
        x = self.fc2(F.relu(self.fc1(x)))
        return {
            "softmax": F.softmax(x, dim=1),
            "log_softmax": F.log_softmax(x, dim=1),
            "relu at the end": F.relu(x),
            "none": None,
            "wrong shape": x[:, :5],
            "swapped": self.fc2(
                F.relu(
                    self.fc1(
                        F.relu(
                            self.maxpool(self.conv2(F.relu(self.maxpool(self.conv1(x.new_zeros(len(x), 1, 28, 28))))))
                        ).flatten(1)
                    )
                )
            ),
        }.get(self.variant, x)


def test_network_checks_accept_the_solution():
    model = models.MNISTNet()
    for check in (checks.check_conv_channels, checks.check_maxpool, checks.check_linear_layers, checks.check_forward):
        assert isinstance(check(model), checks.Passed)


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ({"conv1": nn.Conv2d(3, 10, 5)}, "conv1 has in_channels=3 but MNIST images have 1 channel"),
        ({"conv1": nn.Conv2d(1, 20, 5)}, "conv1 has out_channels=20 but should learn 10 filters"),
        ({"conv2": nn.Conv2d(20, 20, 5)}, "conv2 has in_channels=20 but conv1 produces 10 channels"),
        ({"conv2": nn.Conv2d(10, 10, 5)}, "conv2 has out_channels=10 but should learn 20"),
        ({"conv2": nn.Conv2d(10, 20, 3)}, r"conv2 has kernel_size=\(3, 3\)"),
        ({"conv1": None}, r"self.conv1 is still None: replace it with nn.Conv2d\(1, 10, kernel_size=5\)"),
    ],
)
def test_conv_channels_reject(layers, message):
    rejects(checks.check_conv_channels, Net(**layers), message)


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ({"maxpool": None}, "self.maxpool is still None"),
        ({"maxpool": nn.MaxPool2d(2, stride=1)}, "self.maxpool has stride=1"),
        ({"maxpool": nn.MaxPool2d(3, stride=2)}, "self.maxpool has kernel_size=3"),
        ({"maxpool": nn.AvgPool2d(2)}, "self.maxpool is AvgPool2d, not nn.MaxPool2d"),
    ],
)
def test_maxpool_reject(layers, message):
    rejects(checks.check_maxpool, Net(**layers), message)


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ({"fc1": nn.Linear(4 * 4, 50)}, "fc1 has in_features=16 but conv2's output is 20 channels x 4 x 4 = 320"),
        ({"fc1": nn.Linear(20 * 8 * 8, 50)}, "fc1 has in_features=1280"),
        ({"fc2": nn.Linear(320, 10)}, "fc2 has in_features=320 but fc1 outputs 50"),
        ({"fc2": nn.Linear(50, 1)}, "fc2 has out_features=1 but there are 10 digits"),
        ({"fc1": None}, "self.fc1 is still None"),
    ],
)
def test_linear_layers_reject(layers, message):
    rejects(checks.check_linear_layers, Net(**layers), message)


@pytest.mark.parametrize(
    ("variant", "message"),
    [
        ("softmax", "the outputs are probabilities .* nn.CrossEntropyLoss applies the softmax itself"),
        ("log_softmax", "the outputs are log-probabilities"),
        ("relu at the end", "a ReLU after fc2 sets every negative score to 0"),
        ("no relu between fc", "there is no ReLU between fc1 and fc2"),
        ("no relu in blocks", "the second convolutional block has no ReLU"),
        ("none", "forward returned None"),
        ("wrong shape", r"forward returned shape \(4, 5\) for 4 images"),
        ("swapped", "the output differs from conv1 -> maxpool -> relu"),
    ],
)
def test_forward_rejects(variant, message):
    rejects(checks.check_forward, Net(forward=variant), message)


def test_forward_with_blank_lines_gets_the_blank_message():
    class Blank(models.MNISTNet):
        def forward(self, x):
            x = self.conv1(x)
            x = None
            return self.fc2(x)

    rejects(checks.check_forward, Blank(), "something is still None .* fill in every blank marked ✎")


# Loss, optimiser and training ------------------------------------------------------------


def test_loss_and_optimizer():
    model = models.MNISTNet()
    good = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    checks.check_loss_and_optimizer(nn.CrossEntropyLoss(), good, model)
    other = models.MNISTNet()
    cases = [
        ((nn.MSELoss(), good, model), "loss_fn is MSELoss, not nn.CrossEntropyLoss"),
        ((nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters()), model), "optimizer is Adam, not SGD"),
        (
            (nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9), model),
            "lr=0.01 but the practical uses lr=0.001",
        ),
        (
            (nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.001), model),
            "momentum=0 but the practical uses momentum=0.9",
        ),
        (
            (nn.CrossEntropyLoss(), torch.optim.SGD(other.parameters(), lr=0.001, momentum=0.9), model),
            "does not hold this model's parameters",
        ),
        ((nn.CrossEntropyLoss(), None, model), "optimizer is still None"),
        ((None, good, model), "loss_fn is still None"),
    ]
    for answer, message in cases:
        rejects(checks.check_loss_and_optimizer, answer, message)


def make_train_epoch(*skip):
    def train_epoch(model, train_loader, loss_fn, optimizer, device):
        if "train" not in skip:
            model.train()
        losses = []
        for X, y in train_loader:
            if "move" not in skip:
                X = X.to(device)
                y = y.to(device)
            if "zero_grad" not in skip and "zero_grad late" not in skip:
                optimizer.zero_grad()
            outputs = None if "blank" in skip else model(X)
            loss = loss_fn(y, outputs) if "swapped" in skip else loss_fn(outputs, y)
            if "zero_grad late" in skip:
                loss.backward()
                optimizer.zero_grad()
            elif "backward" not in skip:
                loss.backward()
            if "step" not in skip:
                optimizer.step()
            losses.append(loss if "tensor losses" in skip else loss.item())
        return losses

    return train_epoch


def test_train_epoch_accepts_the_solution_and_the_library():
    checks.check_train_epoch(make_train_epoch())
    checks.check_train_epoch(lambda *args: train.train_one_epoch(*args, progress=False))


@pytest.mark.parametrize(
    ("skip", "message"),
    [
        ("train", "Task 2.2.1: the model is still in evaluation mode: call model.train()"),
        ("move", "Task 2.2.2: the batches were not moved to the device"),
        ("zero_grad", "Task 2.2.3: optimizer.zero_grad\\(\\) ran 0 times for 3 batches"),
        ("zero_grad late", "Task 2.2.6: there were no gradients when optimizer.step\\(\\) ran"),
        ("backward", "Task 2.2.6: there were no gradients"),
        ("step", "Task 2.2.7: optimizer.step\\(\\) ran 0 times for 3 batches"),
        ("swapped", "the model's outputs first, then the labels"),
        ("blank", "something is still None"),
        ("tensor losses", "return a list with one loss.item\\(\\) per batch"),
    ],
)
def test_train_epoch_rejects(skip, message):
    rejects(checks.check_train_epoch, make_train_epoch(skip), message)


def test_train_epoch_rejects_a_wrong_loss():
    def train_epoch(model, train_loader, loss_fn, optimizer, device):
        model.train()
        losses = []
        for X, y in train_loader:
            X, y = X.to(device), y.to(device)
            optimizer.zero_grad()
            loss = F.nll_loss(model(X), y)  # not the cross-entropy: no log-softmax
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return losses

    rejects(checks.check_train_epoch, train_epoch, "Task 2.2.4-2.2.5: the gradients are not those of this batch's loss")


def test_train_epoch_rejects_non_functions():
    rejects(checks.check_train_epoch, None, "train_epoch is not a function")


# Exercise 2.3 -------------------------------------------------------------------------


@pytest.fixture
def labels():
    rng = np.random.default_rng(0)
    y_true = np.repeat(np.arange(10), 100)
    y_pred = y_true.copy()
    wrong = rng.choice(1000, 40, replace=False)
    y_pred[wrong] = (y_pred[wrong] + 1) % 10
    return y_true, y_pred


def test_predictions(labels):
    y_true, y_pred = labels
    assert "96.0%" in repr(checks.check_predictions(y_true, y_pred, y_true))


def test_predictions_reject(labels):
    y_true, y_pred = labels
    scores = np.eye(10)[y_pred]
    rejects(
        checks.check_predictions, (y_true[:8], y_pred[:8], y_true), "you have 8 predictions but the test set has 1,000 images"
    )
    rejects(checks.check_predictions, (y_true, scores, y_true), r"y_pred has shape \(1000, 10\): these are scores")
    rejects(checks.check_predictions, (y_true, np.zeros(1000, dtype=int), y_true), "the accuracy is only 10.0%")
    rejects(checks.check_predictions, (None, y_pred, y_true), "y_true is still None")
    rejects(checks.check_predictions, (y_pred, y_pred, y_true), "y_true does not hold the test set's labels")
    rejects(checks.check_predictions, (y_true, y_pred + 0.5, y_true), "y_pred is not digits 0-9")


def test_scores(labels):
    from sklearn.metrics import accuracy_score, precision_score, recall_score

    y_true, y_pred = labels
    f1 = f1_score(y_true, y_pred, average="macro")
    precision = precision_score(y_true, y_pred, average="macro")
    recall = recall_score(y_true, y_pred, average="macro")
    accuracy = accuracy_score(y_true, y_pred)
    checks.check_scores(accuracy, f1, precision, recall, y_true, y_pred)
    micro = f1_score(y_true, y_pred, average="micro")
    rejects(
        checks.check_scores,
        (accuracy, micro, precision, recall, y_true, y_pred),
        "That is the micro average .* pass average='macro'",
    )
    rejects(checks.check_scores, (accuracy, f1, recall, recall, y_true, y_pred), "precision=")
    rejects(checks.check_scores, (None, f1, precision, recall, y_true, y_pred), "accuracy is still None")
    rejects(checks.check_scores, (accuracy, f1, precision, recall, None, y_pred), "finish the predictions of Ex 2.3 first")
    rejects(
        checks.check_scores,
        (accuracy * 100, f1, precision, recall, y_true, y_pred),
        "accuracy=96.0000 but the expected value is 0.9600",
    )


# Exercise 3 ---------------------------------------------------------------------------


def test_sequential_model():
    checks.check_sequential_model(models.SequentialCNN())


class SeedExercise3(nn.Module):
    """The original practical's Exercise 3 network, as it was written."""

    def __init__(self):
        super().__init__()
        self.conv_block1 = nn.Sequential(nn.Conv2d(3, 64, 5), nn.BatchNorm2d(64), nn.ReLU())
        self.conv_block2 = nn.Sequential(nn.Conv2d(64, 128, 5), nn.BatchNorm2d(128), nn.ReLU())
        self.fc1 = nn.Linear(320, 10)

    def forward(self, x):
        x = self.conv_block2(self.conv_block1(x))
        return F.relu(self.fc1(x.view(-1, 320)))


class LogSoftmaxCNN(models.SequentialCNN):
    def forward(self, x):
        return F.log_softmax(super().forward(x), dim=1)


def test_sequential_model_rejects():
    rejects(checks.check_sequential_model, SeedExercise3(), "model\\(X\\) raised RuntimeError: .*Check the sizes of the layers")
    rejects(checks.check_sequential_model, LogSoftmaxCNN(), "the outputs are log-probabilities")
    rejects(checks.check_sequential_model, models.MNISTNet(), "the model has 0 nn.Sequential block")
    rejects(
        checks.check_sequential_model,
        models.SequentialCNN(channels=(16, 32)),
        "has 39,408 parameters but the Exercise 2 network has 21,840",
    )
    rejects(checks.check_sequential_model, None, "the model is None")
    rejects(checks.check_sequential_model, models.SequentialCNN, "the model is a type")


def test_regularised_model():
    checks.check_regularised_model(models.SequentialCNN(batchnorm=True, dropout=0.2))


class FunctionalDropout(models.SequentialCNN):
    def __init__(self):
        super().__init__(batchnorm=True)
        self.conv_blocks.append(nn.Dropout(0.0))

    def forward(self, x):
        return self.lin_blocks(F.dropout(self.conv_blocks(x), 0.5))


def test_regularised_model_rejects():
    rejects(checks.check_regularised_model, models.SequentialCNN(dropout=0.2), "no nn.BatchNorm2d")
    rejects(checks.check_regularised_model, models.SequentialCNN(batchnorm=True), "no dropout module")
    wrong_norm = models.SequentialCNN(batchnorm=True, dropout=0.2)
    wrong_norm.conv_blocks[0][1] = nn.BatchNorm2d(20)
    rejects(checks.check_regularised_model, wrong_norm, "a BatchNorm2d has num_features=20 but the convolution before it has 10")
    rejects(checks.check_regularised_model, FunctionalDropout(), "a dropout layer has p=0.0")
    drops = FunctionalDropout()
    drops.conv_blocks[-1].p = 0.3
    rejects(checks.check_regularised_model, drops, "in evaluation mode two passes differ")


def test_variant():
    assert "21,840 parameters" in repr(checks.check_variant(models.SequentialCNN(downsample="stride")))
    rejects(checks.check_variant, None, "the model is None")
    rejects(checks.check_variant, nn.Linear(784, 10), "raised RuntimeError")
    rejects(checks.check_variant, nn.Sequential(nn.Flatten(), nn.Linear(784, 2)), r"returned shape \(4, 2\)")


def test_network_checks_reject_a_missing_model():
    for check in (checks.check_conv_channels, checks.check_maxpool, checks.check_linear_layers):
        rejects(check, None, "model is None: create it with model = MNISTModel()")


def test_forward_reports_other_type_errors():
    class WrongCall(models.MNISTNet):
        def forward(self, x):
            return self.fc2(x, x)

    rejects(checks.check_forward, WrongCall(), "model\\(X\\) raised TypeError")
