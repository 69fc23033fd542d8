/*
 * model/liaison.c — liaison chains (联系机制): township organisation
 * members and village party secretaries (cadres) each look after some
 * party-member drivers, who each look after some drivers.  A link is a
 * record "<from>/<to>" in the registry space, so the same pair entered on
 * two desks is one link; each contact (call, visit, message) is an event
 * on it, so contact logs from several offline devices add up.  The show
 * counts the people at each level as the report does (3,588 cadres →
 * 5,179 party-member drivers → 27,220 drivers) and follows a driver's
 * application progress through his registry status.
 */
#include <stdlib.h>
#include <string.h>

#include "model/org_int.h"
#include "model/registry_int.h"

static const char *const cadre_titles[] = {"township_org_member", "village_secretary", NULL};
static const char *const link_levels[] = {"cadre", "party_member", NULL};
static const char *const contact_ways[] = {"call", "visit", "message", NULL};

int dc_liaison_cadre_txn(dc_replica *r, dc_txn *t, const char *id, const char *name,
                         const char *region, const char *title) {
    int rc;
    if ((rc = dc__org_handles(r, t, "dc_liaison_cadre_txn")) ||
        (rc = dc__org_id(r, "liaison cadre: the id", id)) ||
        (rc = dc__org_text(r, "liaison cadre: the name", name, true)) ||
        (rc = dc__org_region_check(r, "liaison cadre: the region", region)) ||
        (rc = dc__org_enum(r, "liaison cadre: the title", title, cadre_titles)))
        return rc;
    if (!(rc = dc_txn_set(t, "cadre", id, "name", DC_STR, 0, name)) &&
        !(rc = dc_txn_set(t, "cadre", id, "region", DC_STR, 0, region)))
        rc = dc_txn_set(t, "cadre", id, "title", DC_STR, 0, title);
    return rc;
}

int dc_liaison_cadre(dc_replica *r, const char *space, const char *id, const char *name,
                     const char *region, const char *title) {
    dc_txn *t;
    int rc = dc__org_begin(&t, r, space);
    if (rc)
        return rc;
    return dc__org_finish(t, dc_liaison_cadre_txn(r, t, id, name, region, title));
}

int dc_liaison_link_txn(dc_buf *id, dc_replica *r, dc_txn *t, const char *from, const char *to,
                        const char *level) {
    int rc;
    if ((rc = dc__org_handles(r, t, "dc_liaison_link_txn")) ||
        (rc = dc__org_enum(r, "liaison link: the level", level, link_levels)))
        return rc;
    bool cadre = strcmp(level, "cadre") == 0;
    /* A cadre looks after party-member drivers; a party-member driver
     * after drivers: both ends of a party_member link are drivers. */
    if ((rc = cadre ? dc__org_id(r, "liaison link: the cadre (from)", from)
                    : dc__org_driver(r, "liaison link: the party-member driver (from)", from)) ||
        (rc = dc__org_driver(r,
                             cadre ? "liaison link: the party-member driver (to)"
                                   : "liaison link: the driver (to)",
                             to)))
        return rc;
    if (strcmp(from, to) == 0)
        return dc__model_fail(r, DC_EINVAL, "liaison link: %s cannot be linked to himself", to);
    dc_buf lid = DC_BUF_INIT;
    if (dc__buf_printf(&lid, "%s/%s", from, to))
        return dc__model_fail(r, DC_ENOMEM, "liaison link: out of memory");
    const char *k = (const char *)lid.ptr;
    if (!(rc = dc_txn_set(t, "liaison", k, "from", DC_STR, 0, from)) &&
        !(rc = dc_txn_set(t, "liaison", k, "to", DC_STR, 0, to)))
        rc = dc_txn_set(t, "liaison", k, "level", DC_STR, 0, level);
    if (!rc && id)
        dc__buf_move(id, &lid);
    dc_buf_dispose(&lid);
    return rc;
}

int dc_liaison_link(dc_buf *id, dc_replica *r, const char *space, const char *from, const char *to,
                    const char *level) {
    dc_txn *t;
    int rc = dc__org_begin(&t, r, space);
    if (rc)
        return rc;
    return dc__org_finish(t, dc_liaison_link_txn(id, r, t, from, to, level));
}

static int check_contact(dc_replica *r, const char *link, const char *how, const char *date,
                         const char *note) {
    int rc;
    if ((rc = dc__org_text(r, "liaison contact: the link", link, true)))
        return rc;
    const char *slash = strchr(link, '/');
    if (!slash || slash == link || !slash[1] || strchr(slash + 1, '/'))
        return dc__model_fail(r, DC_EINVAL,
                              "liaison contact: '%.100s' is not a link id "
                              "'<from>/<to>'",
                              link);
    if ((rc = dc__org_enum(r, "liaison contact: how", how, contact_ways)) ||
        (rc = dc__org_text(r, "liaison contact: the note", note, false)))
        return rc;
    if (date && *date && (rc = dc__org_date_check(r, "liaison contact: the date", date)))
        return rc;
    return 0;
}

int dc_liaison_contact_txn(dc_replica *r, dc_txn *t, const char *link, const char *how,
                           const char *date, const char *note) {
    int rc;
    char today[11];
    if ((rc = dc__org_handles(r, t, "dc_liaison_contact_txn")) ||
        (rc = check_contact(r, link, how, date, note)))
        return rc;
    if (!date || !*date) {
        dc__org_date(today, dc__org_now_ms());
        date = today;
    }
    if (!(rc = dc_txn_event(t, "liaison", link)) &&
        !(rc = dc_txn_event_field(t, "how", DC_STR, 0, how)) &&
        !(rc = dc_txn_event_field(t, "date", DC_STR, 0, date)))
        rc = dc_txn_event_field(t, "note", note && *note ? DC_STR : DC_NULL, 0, note);
    return rc;
}

int dc_liaison_contact(dc_replica *r, const char *space, const char *link, const char *how,
                       const char *date, const char *note) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_liaison_contact: the replica handle is NULL");
    int rc = check_contact(r, link, how, date, note);
    if (rc)
        return rc;
    rc = dc__org_exists(r, space, "liaison", link);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return dc__model_fail(r, DC_ENOTFOUND,
                              "liaison contact: no link %s in this space "
                              "(link them first)",
                              link);
    dc_txn *t;
    if ((rc = dc__org_begin(&t, r, space)))
        return rc;
    return dc__org_finish(t, dc_liaison_contact_txn(r, t, link, how, date, note));
}

/* ---- show ---- */

enum { L_CADRE, L_PM, L_N };

typedef struct liaison_ctx {
    dc_replica *r;
    const char *space, *from;
    dc__strs cadres, pm, drivers;
    size_t links[L_N], contacts[L_N], ways[3];
    dc_buf detail;
    size_t ndetail;
    dc_buf status; /* the political status of the driver being shown */
} liaison_ctx;

/* The status shown (the fold of his reports, docs/domain.md "The value
 * shown"): the application progress a liaison follows. */
static int read_status(void *user, const dc_record *rec) {
    dc_buf *s = user;
    return dc__registry_shown(rec, "status", s, NULL, 0) < 0 ? DC_ENOMEM : 0;
}

static int link_detail(liaison_ctx *c, const dc_record *rec, int level) {
    dc_buf *b = &c->detail;
    char to[256];
    dc__org_rec_str(rec, "to", to, sizeof to);
    int rc = 0;
    dc__buf_clear(&c->status);
    if (strncmp(to, "drv-", 4) == 0) {
        /* In this space, or in whichever registry part keeps him (a party
         * member is kept in his branch's registry). */
        char where[33];
        rc = dc__dom_each(c->r, c->space, "driver", to, read_status, &c->status);
        if (!rc && !c->status.size && dc_record_locate(c->r, "driver", to, where) == 0)
            rc = dc__dom_each(c->r, where, "driver", to, read_status, &c->status);
    }
    if (!rc)
        rc = dc__buf_puts(b, c->ndetail++ ? ",{\"link\":" : "{\"link\":");
    if (!rc)
        rc = dc__org_jstr(b, dc_record_id(rec));
    if (!rc && !(rc = dc__org_key(b, "to", false)))
        rc = dc__org_jstr(b, to);
    if (!rc)
        rc = dc__buf_printf(
            b, ",\"level\":\"%s\",\"status\":", level == L_CADRE ? "cadre" : "party_member");
    if (!rc)
        rc = dc__org_jstr(b, c->status.size ? (const char *)c->status.ptr : NULL);
    if (!rc)
        rc = dc__buf_puts(b, ",\"contacts\":[");
    dc_buf last = DC_BUF_INIT;
    for (size_t i = 0; !rc && i < dc_record_event_count(rec); i++) {
        const dc_event *ev = dc_record_event(rec, i);
        const char *date = dc__ev_str(ev, "date");
        if (i)
            rc = dc__buf_putc(b, ',');
        if (!rc && !(rc = dc__buf_puts(b, "{\"how\":")))
            rc = dc__dom_json_value(b, dc_event_value(ev, "how"));
        if (!rc && !(rc = dc__org_key(b, "date", false)))
            rc = dc__org_jstr(b, date);
        if (!rc && !(rc = dc__org_key(b, "note", false)))
            rc = dc__dom_json_value(b, dc_event_value(ev, "note"));
        if (!rc)
            rc = dc__buf_putc(b, '}');
        /* Contacts arrive in clock order, not date order: keep the latest
         * date seen (dates compare as text). */
        if (!rc && date && (!last.size || strcmp(date, (const char *)last.ptr) > 0)) {
            dc__buf_clear(&last);
            rc = dc__buf_puts(&last, date);
        }
    }
    if (!rc && !(rc = dc__buf_puts(b, "],\"last_contact\":")))
        rc = dc__org_jstr(b, last.size ? (const char *)last.ptr : NULL);
    if (!rc)
        rc = dc__buf_putc(b, '}');
    dc_buf_dispose(&last);
    return rc;
}

static int liaison_one(void *user, const dc_record *rec) {
    liaison_ctx *c = user;
    const dc_value *from = dc_record_value(rec, "from"), *to = dc_record_value(rec, "to");
    if (!from || from->kind != DC_STR || !to || to->kind != DC_STR)
        return 0;
    int level;
    if (dc__org_rec_is(rec, "level", "cadre"))
        level = L_CADRE;
    else if (dc__org_rec_is(rec, "level", "party_member"))
        level = L_PM;
    else
        return 0;
    c->links[level]++;
    int rc;
    if (level == L_CADRE) {
        rc = dc__strs_push(&c->cadres, dc__vstr(from), from->len);
        if (!rc)
            rc = dc__strs_push(&c->pm, dc__vstr(to), to->len);
    } else {
        rc = dc__strs_push(&c->drivers, dc__vstr(to), to->len);
    }
    for (size_t i = 0; !rc && i < dc_record_event_count(rec); i++) {
        c->contacts[level]++;
        const char *how = dc__ev_str(dc_record_event(rec, i), "how");
        for (size_t k = 0; how && k < 3; k++)
            if (strcmp(how, contact_ways[k]) == 0)
                c->ways[k]++;
    }
    if (!rc && c->from && from->len == strlen(c->from) &&
        memcmp(dc__vstr(from), c->from, from->len) == 0)
        rc = link_detail(c, rec, level);
    return rc;
}

int dc_liaison_show(dc_buf *out, dc_replica *r, const char *space, const char *from) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_liaison_show: the replica handle is NULL");
    if (!out)
        return dc__model_fail(r, DC_EMISUSE, "dc_liaison_show: out is NULL");
    liaison_ctx c;
    memset(&c, 0, sizeof c);
    c.r = r;
    c.space = space;
    c.from = from && *from ? from : NULL;
    dc_buf b = DC_BUF_INIT;
    int rc = dc__dom_each(r, space, "liaison", NULL, liaison_one, &c);
    if (!rc) {
        dc__strs_sort(&c.cadres);
        dc__strs_sort(&c.pm);
        dc__strs_sort(&c.drivers);
        rc = dc__buf_printf(&b,
                            "{\"cadres\":%zu,\"party_member_drivers\":%zu,\"drivers\":%zu,"
                            "\"links\":{\"cadre\":%zu,\"party_member\":%zu},"
                            "\"contacts\":{\"cadre\":%zu,\"party_member\":%zu,\"call\":%zu,"
                            "\"visit\":%zu,\"message\":%zu}",
                            c.cadres.n, c.pm.n, c.drivers.n, c.links[L_CADRE], c.links[L_PM],
                            c.contacts[L_CADRE], c.contacts[L_PM], c.ways[0], c.ways[1], c.ways[2]);
    }
    if (!rc && c.from) {
        if (!(rc = dc__buf_puts(&b, ",\"from\":")) && !(rc = dc__org_jstr(&b, c.from)) &&
            !(rc = dc__buf_puts(&b, ",\"chain\":[")) &&
            !(rc = dc__buf_put(&b, c.detail.ptr, c.detail.size)))
            rc = dc__buf_putc(&b, ']');
    }
    if (!rc)
        rc = dc__buf_putc(&b, '}');
    if (rc && !*dc_replica_errmsg(r))
        dc__model_fail(r, rc, "liaison show: %s", dc_strerror(rc));
    if (!rc)
        dc__org_out(out, &b);
    dc__strs_free(&c.cadres);
    dc__strs_free(&c.pm);
    dc__strs_free(&c.drivers);
    dc_buf_dispose(&c.detail);
    dc_buf_dispose(&c.status);
    dc_buf_dispose(&b);
    return rc;
}
