#include "portkit/output.h"

const struct pk_output_module pk_output_xml = {
    .name = "xml",
};
