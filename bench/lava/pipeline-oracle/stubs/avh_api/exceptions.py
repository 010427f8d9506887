class ForbiddenException(Exception): pass
class NotFoundException(Exception): pass
