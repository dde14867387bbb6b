/* Which symbols the shared library exports. The library is built with
 * -fvisibility=hidden, so only what a public header marks PK_EXPORT is part
 * of the ABI; module internals stay private even though they are extern
 * inside the library. Consumers see the same attribute, which is harmless. */
#ifndef PORTKIT_EXPORT_H
#define PORTKIT_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define PK_EXPORT __attribute__((visibility("default")))
#else
#define PK_EXPORT
#endif

#endif
