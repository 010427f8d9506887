# stub for the audit oracle only: the AVH API client is not installed
class ApiException(Exception): pass
class Configuration:
    def __init__(self, *a, **k): pass
class ApiClient:
    def __init__(self, *a, **k): pass
