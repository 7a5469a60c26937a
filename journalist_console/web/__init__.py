"""The console's local web interface: `create_app` and `serve` (journalist_console/web/app.py)."""

from journalist_console.web.app import STATIC, TEMPLATES, create_app, serve

__all__ = ["STATIC", "TEMPLATES", "create_app", "serve"]
