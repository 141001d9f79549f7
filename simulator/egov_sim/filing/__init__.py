"""The e-Gov API v2 (/shinsei/v2): filing state and rules (no Flask) and the HTTP layer (api.py)."""
