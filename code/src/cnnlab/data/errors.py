"""What can go wrong with MNIST: files that are missing or wrong, and downloads that fail."""

__all__ = ["MNISTDataError", "MNISTDownloadError"]


class MNISTDataError(RuntimeError):
    """MNIST files are missing, truncated, corrupt, or not the published MNIST."""


class MNISTDownloadError(MNISTDataError):
    """The full MNIST could not be downloaded; ``reason`` says why in one line, without the advice."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message
