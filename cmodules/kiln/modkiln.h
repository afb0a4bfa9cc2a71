// Declarations shared by the files of the _kiln module.
#ifndef KILN_MODKILN_H
#define KILN_MODKILN_H

#define KILN_VERSION "0.1.0"

// The most client connections a server holds at once on this board (mpconfigboard.h may set
// it); 0 sizes it from the heap (kiln.server).
#ifndef KILN_MAX_CONNECTIONS
#define KILN_MAX_CONNECTIONS (0)
#endif

// The reason phrase of an HTTP status ("" when unknown), from the one table in kiln_response.c.
const char *kiln_reason(unsigned status);

#endif
