"""lanjie (拦截): stop the parcel, settle the refund, follow the return, claim the loss."""

__version__ = "0.1.0"
