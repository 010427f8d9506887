class InstanceState(str): pass
