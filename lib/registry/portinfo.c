#include "portkit/portinfo.h"

#include <string.h>
#include <strings.h>

#include "portkit/json.h"

void pk_portinfo_get(const struct pk_registry *reg, const struct pk_hostinfo *host, unsigned port,
                     enum pk_proto proto, struct pk_portinfo *out)
{
    memset(out, 0, sizeof *out);
    out->port = port;
    out->proto = proto;
    out->range = pk_port_range(port);
    size_t first, n = pk_registry_port(reg, port, &first);
    out->first = first;
    out->description = "";
    for (size_t i = first; i < first + n; i++) {
        struct pk_service s;
        pk_registry_get(reg, i, &s);
        if (s.proto != proto) {
            if (out->count)
                break;
            continue;
        }
        if (!out->count)
            out->first = i;
        out->count++;
        if (s.flags & PK_SVC_RESERVED)
            out->reserved = true;
        if (!out->name && s.name[0]) {
            out->name = s.name;
            out->description = s.description;
        }
        if (!out->description[0] && s.description[0])
            out->description = s.description;
    }
    out->named = out->name != NULL;
    out->official = out->named || out->reserved;
    out->has_note = pk_registry_note(reg, port, proto, &out->note);
    out->has_range = pk_registry_range_note(reg, port, proto, &out->range_note);
    if (!out->name && out->has_note)
        out->name = out->note.name;
    if (host) {
        out->ephemeral = pk_hostinfo_is_ephemeral(host, port);
        out->privileged = pk_hostinfo_is_privileged(host, port);
    }
}

bool pk_portinfo_known(const struct pk_portinfo *pi)
{
    return pi->count > 0 || pi->has_note;
}

/* Emits each '\n'-separated line of s as an array element. */
static void json_lines(struct pk_json *j, const char *key, const char *s)
{
    pk_json_arr_begin(j, key);
    while (*s) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        pk_json_strn(j, NULL, s, n);
        s += n + (nl ? 1 : 0);
    }
    pk_json_arr_end(j);
}

/* Each '\n'-separated item of s as a string element of the open array. */
static void json_items(struct pk_json *j, const char *s)
{
    while (*s) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        pk_json_strn(j, NULL, s, n);
        s += n + (nl ? 1 : 0);
    }
}

void pk_portinfo_json(const struct pk_registry *reg, const struct pk_portinfo *pi, struct pk_buf *out)
{
    struct pk_json j;
    pk_json_init(&j, out);
    pk_json_obj_begin(&j, NULL);
    pk_json_int(&j, "port", pi->port);
    pk_json_str(&j, "proto", pk_proto_name(pi->proto));
    pk_json_str(&j, "range", pk_range_name(pi->range));
    pk_json_str(&j, "name", pi->name);
    pk_json_arr_begin(&j, "aliases");
    const char *unauth = "", *anotes = "";
    for (size_t i = pi->first; i < pi->first + pi->count; i++) {
        struct pk_service s;
        pk_registry_get(reg, i, &s);
        if (s.name[0] && pi->name && strcasecmp(s.name, pi->name) != 0) {
            bool dup = false; /* IANA repeats a name across rows; list it once */
            for (size_t k = pi->first; k < i && !dup; k++) {
                struct pk_service t;
                pk_registry_get(reg, k, &t);
                dup = strcasecmp(t.name, s.name) == 0;
            }
            if (!dup)
                pk_json_str(&j, NULL, s.name);
        }
        if (!unauth[0])
            unauth = s.unauthorized_use;
        if (!anotes[0])
            anotes = s.assignment_notes;
    }
    if (pi->has_note && pi->note.official && pi->name && strcasecmp(pi->note.name, pi->name) != 0)
        pk_json_str(&j, NULL, pi->note.name);
    if (pi->has_note)
        json_items(&j, pi->note.aliases);
    pk_json_arr_end(&j);
    /* the name people use for a de-facto use that differs from IANA's */
    bool other = pi->has_note && !pi->note.official && pi->name && strcasecmp(pi->note.name, pi->name) != 0;
    pk_json_str(&j, "known_as", other ? pi->note.name : NULL);
    pk_json_str(&j, "description", pi->description[0] ? pi->description
                                   : pi->reserved ? "Reserved" : pi->count ? "" : "Unassigned");
    json_lines(&j, "notes", pi->has_note ? pi->note.text : "");
    json_lines(&j, "risk", pi->has_note ? pi->note.risk : "");
    pk_json_bool(&j, "official", pi->official);
    pk_json_bool(&j, "ephemeral", pi->ephemeral);
    pk_json_bool(&j, "privileged", pi->privileged);
    pk_json_arr_begin(&j, "alt");
    for (size_t i = 0; pi->has_note && i < pi->note.nalt; i++)
        pk_json_int(&j, NULL, pi->note.alt[i]);
    pk_json_arr_end(&j);
    pk_json_bool(&j, "reserved", pi->reserved);
    pk_json_str(&j, "unauthorized_use", unauth[0] ? unauth : NULL);
    pk_json_str(&j, "assignment_notes", anotes[0] ? anotes : NULL);
    pk_json_str(&j, "note_kind", !pi->has_note ? NULL : pi->note.official ? "official" : "de-facto");
    pk_json_str(&j, "source", pi->has_note && pi->note.source[0] ? pi->note.source : NULL);
    pk_json_obj_begin(&j, "translations");
    for (int l = 1; pi->has_note && l < PK_LANG_COUNT; l++)
        if (pi->note.translation[l][0])
            json_lines(&j, pk_lang_code((enum pk_lang)l), pi->note.translation[l]);
    pk_json_obj_end(&j);
    if (pi->has_range) {
        const struct pk_note *r = &pi->range_note;
        char text[1024];
        pk_note_render(r->text, pi->port, r->range_lo, text, sizeof text);
        pk_json_obj_begin(&j, "range_note");
        pk_json_int(&j, "first", r->range_lo);
        pk_json_int(&j, "last", r->range_hi);
        pk_json_str(&j, "name", r->name);
        json_lines(&j, "notes", text);
        json_lines(&j, "risk", r->risk);
        pk_json_str(&j, "source", r->source[0] ? r->source : NULL);
        pk_json_obj_end(&j);
    } else {
        pk_json_str(&j, "range_note", NULL);
    }
    pk_json_obj_end(&j);
}
