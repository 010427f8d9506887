arm_api = None
