# Stands in for the frozen package so that kiln.server loads without the framework.
__path__ = ".frozen/kiln"
