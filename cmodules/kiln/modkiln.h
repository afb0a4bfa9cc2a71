// Declarations shared by the files of the _kiln module.
#ifndef KILN_MODKILN_H
#define KILN_MODKILN_H

#define KILN_VERSION "0.1.0"

#endif
