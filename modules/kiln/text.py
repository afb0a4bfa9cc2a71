# str.partition and str.rpartition as functions: the ESP8266 port compiles both methods out
# (MICROPY_PY_BUILTINS_STR_PARTITION is 0 in its mpconfigport.h), and Kiln runs on every port.


def partition(text, sep):
    i = text.find(sep)
    if i < 0:
        return text, text[:0], text[:0]
    return text[:i], sep, text[i + len(sep):]


def rpartition(text, sep):
    i = text.rfind(sep)
    if i < 0:
        return text[:0], text[:0], text
    return text[:i], sep, text[i + len(sep):]
