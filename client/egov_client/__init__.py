"""egov_client — a client for e-Gov 電子申請API v2 (real e-Gov or the egov-sandbox simulator)."""
