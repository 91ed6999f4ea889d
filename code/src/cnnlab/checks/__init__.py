"""Self-checks for the practical's exercises: one per task, each naming what is wrong.

Every check returns a :class:`Passed` note when the answer is right, and
raises :class:`SelfCheckError` with a message that names the task, the real
cause and the fix when it is not. One module per exercise (:mod:`.ex1`,
:mod:`.ex2`, :mod:`.ex3`, :mod:`.ex4` for the brain-tissue chapter, :mod:`.ex5` for
the saliency chapter and :mod:`.ex6` for the calibration chapter); what they share is in :mod:`.common`.

``HIDDEN_TESTS`` maps a self-check's name to the grader's hidden test of the
same task (:class:`HiddenTest`), which each chapter's module defines beside
its self-checks.
"""

from . import ex1, ex2, ex3, ex4, ex5, ex6
from .common import HiddenTest, Passed, SelfCheckError
from .ex1 import check_conv_layer, check_padded_conv_layer, check_pool_3x3, check_pool_4x2
from .ex2 import check_loss_and_optimizer, check_network, check_predict, check_scores, check_train_epoch
from .ex3 import check_regularised_model, check_sequential_model, check_variant
from .ex4 import check_conv_block, check_dice, check_segmentation_net, check_slab_split
from .ex5 import check_grad_cam, check_input_gradient, check_occlusion, check_randomization_test
from .ex6 import check_calibration_error, check_mc_dropout, check_selective_accuracy, check_temperature

HIDDEN_TESTS = {
    name: test for module in (ex1, ex2, ex3, ex4, ex5, ex6) for name, test in getattr(module, "HIDDEN_TESTS", {}).items()
}

__all__ = [
    "HIDDEN_TESTS",
    "HiddenTest",
    "Passed",
    "SelfCheckError",
    "check_conv_layer",
    "check_padded_conv_layer",
    "check_pool_3x3",
    "check_pool_4x2",
    "check_network",
    "check_loss_and_optimizer",
    "check_train_epoch",
    "check_predict",
    "check_scores",
    "check_sequential_model",
    "check_regularised_model",
    "check_variant",
    "check_conv_block",
    "check_segmentation_net",
    "check_dice",
    "check_slab_split",
    "check_input_gradient",
    "check_occlusion",
    "check_grad_cam",
    "check_randomization_test",
    "check_calibration_error",
    "check_temperature",
    "check_mc_dropout",
    "check_selective_accuracy",
]
