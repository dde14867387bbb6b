/* Everything portkit offers an embedder, in one include:
 *     #include <portkit/portkit.h>
 * and link with `pkg-config --libs portkit`. Each header below is one module;
 * including just the ones you use works as well. */
#ifndef PORTKIT_PORTKIT_H
#define PORTKIT_PORTKIT_H

#include "portkit/export.h"
#include "portkit/acl.h"
#include "portkit/addr.h"
#include "portkit/banner.h"
#include "portkit/buf.h"
#include "portkit/duration.h"
#include "portkit/error.h"
#include "portkit/firewall.h"
#include "portkit/forward.h"
#include "portkit/freeport.h"
#include "portkit/frequency.h"
#include "portkit/history.h"
#include "portkit/hostinfo.h"
#include "portkit/json.h"
#include "portkit/loop.h"
#include "portkit/output.h"
#include "portkit/permute.h"
#include "portkit/portinfo.h"
#include "portkit/portspec.h"
#include "portkit/procmap.h"
#include "portkit/query.h"
#include "portkit/registry.h"
#include "portkit/safefile.h"
#include "portkit/scan.h"
#include "portkit/sockets.h"
#include "portkit/target.h"
#include "portkit/udp_probes.h"

#endif
