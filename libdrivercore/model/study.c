/*
 * model/study.c — online study in a branch's space (云学习、云讨论): items
 * pushed by the secretary, read receipts and discussion written by each
 * member's own device (at night, often offline), theme activities and who
 * took part.  Receipts and posts are events on the item's record, so two
 * phones that read offline and sync later simply add their events; the
 * per-member state is derived from them, never stored, and every replica
 * holding the same events shows the same state (docs/domain.md, "Study").
 */
#include <stdlib.h>
#include <string.h>

#include "model/org_int.h"

static const char *const study_kinds[] = {"micro_video", "micro_lesson", "article", "news", NULL};

/* "<prefix>" + 12 random hex digits, for an item or activity pushed
 * without an id: two offline tablets must not pick the same id. */
static int random_id(dc_buf *out, const char *prefix) {
    uint8_t nonce[6];
    char hex[13];
    dc__random(nonce, sizeof nonce);
    dc__hex(hex, nonce, sizeof nonce);
    return dc__buf_printf(out, "%s%s", prefix, hex);
}

static int make_id(dc_replica *r, dc_buf *out, const char *given, const char *prefix,
                   const char *what) {
    if (given && *given) {
        int rc = dc__org_prefixed(r, what, given, prefix);
        if (rc)
            return rc;
        return dc__buf_puts(out, given) ? dc__model_fail(r, DC_ENOMEM, "out of memory") : 0;
    }
    return random_id(out, prefix) ? dc__model_fail(r, DC_ENOMEM, "out of memory") : 0;
}

int dc_study_push_txn(dc_buf *id, dc_replica *r, dc_txn *t, const dc_study_options *o) {
    int rc;
    if ((rc = dc__org_handles(r, t, "dc_study_push_txn")))
        return rc;
    if (!o || o->version != DC_STUDY_OPTIONS_VERSION)
        return dc__model_fail(r, o ? DC_EINVAL : DC_EMISUSE,
                              "study: options missing or of an unknown version");
    if ((rc = dc__org_text(r, "study: the title", o->title, true)) ||
        (rc = dc__org_enum(r, "study: the kind", o->kind, study_kinds)) ||
        (rc = dc__org_text(r, "study: the media", o->media, false)))
        return rc;
    if (o->pushed_ms < 0)
        return dc__model_fail(r, DC_EINVAL, "study: the push time is before 1970");
    dc_buf sid = DC_BUF_INIT;
    if ((rc = make_id(r, &sid, o->id, "st-", "study: the item id"))) {
        dc_buf_dispose(&sid);
        return rc;
    }
    const char *k = (const char *)sid.ptr;
    int64_t pushed = o->pushed_ms ? o->pushed_ms : dc__org_now_ms();
    if (!(rc = dc_txn_set(t, "study", k, "title", DC_STR, 0, o->title)) &&
        !(rc = dc_txn_set(t, "study", k, "kind", DC_STR, 0, o->kind)) &&
        !(rc = dc_txn_set(t, "study", k, "pushed", DC_INT, pushed, NULL)))
        rc = dc__org_set_str(t, "study", k, "media", o->media);
    if (!rc && id)
        dc__buf_move(id, &sid);
    dc_buf_dispose(&sid);
    return rc;
}

int dc_study_push(dc_buf *id, dc_replica *r, const char *space, const dc_study_options *o) {
    dc_txn *t;
    int rc = dc__org_begin(&t, r, space);
    if (rc)
        return rc;
    return dc__org_finish(t, dc_study_push_txn(id, r, t, o));
}

/* ---- receipts and discussion: events {"kind": "read"|"discussion", ...} ---- */

int dc_study_read_txn(dc_replica *r, dc_txn *t, const char *item, const char *driver, int done) {
    int rc;
    if ((rc = dc__org_handles(r, t, "dc_study_read_txn")) ||
        (rc = dc__org_prefixed(r, "study read: the item", item, "st-")) ||
        (rc = dc__org_driver(r, "study read: the driver", driver)))
        return rc;
    if (!(rc = dc_txn_event(t, "study", item)) &&
        !(rc = dc_txn_event_field(t, "kind", DC_STR, 0, "read")) &&
        !(rc = dc_txn_event_field(t, "driver", DC_STR, 0, driver)))
        rc = dc_txn_event_field(t, "done", DC_BOOL, done != 0, NULL);
    return rc;
}

static int need(dc_replica *r, const char *space, const char *type, const char *id,
                const char *what) {
    int rc = dc__org_exists(r, space, type, id);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return dc__model_fail(r, DC_ENOTFOUND, "%s: no %s %s in this space", what, type, id);
    return 0;
}

int dc_study_read(dc_replica *r, const char *space, const char *item, const char *driver,
                  int done) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_study_read: the replica handle is NULL");
    int rc;
    if ((rc = dc__org_prefixed(r, "study read: the item", item, "st-")) ||
        (rc = dc__org_driver(r, "study read: the driver", driver)) ||
        (rc = need(r, space, "study", item, "study read")))
        return rc;
    dc_txn *t;
    if ((rc = dc__org_begin(&t, r, space)))
        return rc;
    return dc__org_finish(t, dc_study_read_txn(r, t, item, driver, done));
}

int dc_study_discuss(dc_replica *r, const char *space, const char *item, const char *driver,
                     const char *text) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_study_discuss: the replica handle is NULL");
    int rc;
    if ((rc = dc__org_prefixed(r, "study discuss: the item", item, "st-")) ||
        (rc = dc__org_driver(r, "study discuss: the driver", driver)) ||
        (rc = dc__org_text(r, "study discuss: the text", text, true)) ||
        (rc = need(r, space, "study", item, "study discuss")))
        return rc;
    dc_txn *t;
    if ((rc = dc__org_begin(&t, r, space)))
        return rc;
    if (!(rc = dc_txn_event(t, "study", item)) &&
        !(rc = dc_txn_event_field(t, "kind", DC_STR, 0, "discussion")) &&
        !(rc = dc_txn_event_field(t, "driver", DC_STR, 0, driver)))
        rc = dc_txn_event_field(t, "text", DC_STR, 0, text);
    return dc__org_finish(t, rc);
}

/* ---- theme activities ---- */

int dc_study_activity_txn(dc_buf *out_id, dc_replica *r, dc_txn *t, const char *id,
                          const char *title, const char *date) {
    int rc;
    if ((rc = dc__org_handles(r, t, "dc_study_activity_txn")) ||
        (rc = dc__org_text(r, "study activity: the title", title, true)) ||
        (rc = dc__org_date_check(r, "study activity: the date", date)))
        return rc;
    dc_buf aid = DC_BUF_INIT;
    if ((rc = make_id(r, &aid, id, "act-", "study activity: the id"))) {
        dc_buf_dispose(&aid);
        return rc;
    }
    const char *k = (const char *)aid.ptr;
    if (!(rc = dc_txn_set(t, "activity", k, "title", DC_STR, 0, title)))
        rc = dc_txn_set(t, "activity", k, "date", DC_STR, 0, date);
    if (!rc && out_id)
        dc__buf_move(out_id, &aid);
    dc_buf_dispose(&aid);
    return rc;
}

int dc_study_activity(dc_buf *out_id, dc_replica *r, const char *space, const char *id,
                      const char *title, const char *date) {
    dc_txn *t;
    int rc = dc__org_begin(&t, r, space);
    if (rc)
        return rc;
    return dc__org_finish(t, dc_study_activity_txn(out_id, r, t, id, title, date));
}

int dc_study_join_txn(dc_replica *r, dc_txn *t, const char *activity, const char *driver) {
    int rc;
    if ((rc = dc__org_handles(r, t, "dc_study_join_txn")) ||
        (rc = dc__org_prefixed(r, "study join: the activity", activity, "act-")) ||
        (rc = dc__org_driver(r, "study join: the driver", driver)))
        return rc;
    return dc_txn_add(t, "activity", activity, "joined", DC_STR, 0, driver);
}

int dc_study_join(dc_replica *r, const char *space, const char *activity, const char *driver) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_study_join: the replica handle is NULL");
    int rc;
    if ((rc = dc__org_prefixed(r, "study join: the activity", activity, "act-")) ||
        (rc = dc__org_driver(r, "study join: the driver", driver)) ||
        (rc = need(r, space, "activity", activity, "study join")))
        return rc;
    dc_txn *t;
    if ((rc = dc__org_begin(&t, r, space)))
        return rc;
    return dc__org_finish(t, dc_study_join_txn(r, t, activity, driver));
}

/* ======================================================================
 * Showing the state
 *
 * A member's state for an item: "done" if any of his receipts says done,
 * else "read" if he has any receipt, else "unread".  Receipts only ever
 * add, so the state only ever moves forward, whatever order they arrive
 * in.  Members are the roster (`member` records) of the space; receipts
 * from others are counted apart as "others".
 * ====================================================================== */

enum { ST_UNREAD = 0, ST_READ = 1, ST_DONE = 2 };
static const char *const state_names[] = {"unread", "read", "done"};

typedef struct study_ctx {
    dc_replica *r;
    dc__strs members;      /* sorted roster */
    int *state;            /* per member, for the current item */
    size_t *nread, *ndone; /* per member, totals over items */
    dc_buf items;          /* JSON of the items so far */
    size_t nitems;
    const char *one; /* the item asked for, or NULL */
    bool found;
} study_ctx;

static int roster_one(void *user, const dc_record *rec) {
    study_ctx *c = user;
    return dc__strs_push(&c->members, dc_record_id(rec), strlen(dc_record_id(rec)));
}

static size_t member_index(const study_ctx *c, const char *driver) {
    /* A binary search over the sorted roster. */
    size_t lo = 0, hi = c->members.n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = strcmp(c->members.v[mid], driver);
        if (d == 0)
            return mid;
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (size_t)-1;
}

static int item_one(void *user, const dc_record *rec) {
    study_ctx *c = user;
    dc_buf *b = &c->items;
    size_t nm = c->members.n, others = 0, posts = 0;
    int rc = 0;
    c->found = true;
    for (size_t i = 0; i < nm; i++)
        c->state[i] = ST_UNREAD;
    /* Discussion, in event order, written out only for one item. */
    dc_buf talk = DC_BUF_INIT;
    dc__strs outsiders = {0};
    for (size_t i = 0; !rc && i < dc_record_event_count(rec); i++) {
        const dc_event *ev = dc_record_event(rec, i);
        const char *kind = dc__ev_str(ev, "kind"), *drv = dc__ev_str(ev, "driver");
        if (!kind || !drv)
            continue;
        if (strcmp(kind, "discussion") == 0) {
            posts++;
            if (!c->one)
                continue;
            rc = dc__buf_puts(&talk, talk.size ? ",{\"driver\":" : "{\"driver\":");
            if (!rc)
                rc = dc__org_jstr(&talk, drv);
            if (!rc && !(rc = dc__org_key(&talk, "text", false)))
                rc = dc__dom_json_value(&talk, dc_event_value(ev, "text"));
            if (!rc && !(rc = dc__org_key(&talk, "at", false)))
                rc = dc__buf_printf(&talk, "%lld", (long long)ev->time_ms);
            if (!rc && !(rc = dc__org_key(&talk, "device", false))) {
                char hex[65];
                dc__hex(hex, ev->author, 32);
                rc = dc__org_jstr(&talk, hex);
            }
            if (!rc)
                rc = dc__buf_putc(&talk, '}');
        } else if (strcmp(kind, "read") == 0) {
            int st = dc__ev_bool(ev, "done") == 1 ? ST_DONE : ST_READ;
            size_t m = member_index(c, drv);
            if (m == (size_t)-1)
                rc = dc__strs_push(&outsiders, drv, strlen(drv));
            else if (st > c->state[m])
                c->state[m] = st;
        }
    }
    dc__strs_sort(&outsiders);
    others = outsiders.n;
    size_t nread = 0, ndone = 0;
    for (size_t i = 0; i < nm; i++) {
        if (c->state[i] >= ST_READ) {
            nread++;
            c->nread[i]++;
        }
        if (c->state[i] == ST_DONE) {
            ndone++;
            c->ndone[i]++;
        }
    }
    if (!rc)
        rc = dc__buf_puts(b, c->nitems++ ? ",{\"item\":" : "{\"item\":");
    if (!rc)
        rc = dc__org_jstr(b, dc_record_id(rec));
    /* The media (possibly a long text) only when one item is asked for. */
    static const char *const fields[] = {"title", "kind", "pushed", "media"};
    for (size_t i = 0; !rc && i < (c->one ? 4u : 3u); i++)
        if (!(rc = dc__org_key(b, fields[i], false)))
            rc = dc__org_jfield(b, rec, fields[i]);
    if (!rc)
        rc = dc__buf_printf(b,
                            ",\"read\":%zu,\"done\":%zu,\"unread\":%zu,\"others\":%zu,"
                            "\"posts\":%zu",
                            nread, ndone, nm - nread, others, posts);
    if (!rc && c->one) {
        rc = dc__buf_puts(b, ",\"members\":{");
        for (size_t i = 0; !rc && i < nm; i++) {
            if (i)
                rc = dc__buf_putc(b, ',');
            if (!rc)
                rc = dc__org_jstr(b, c->members.v[i]);
            if (!rc)
                rc = dc__buf_printf(b, ":\"%s\"", state_names[c->state[i]]);
        }
        if (!rc)
            rc = dc__buf_puts(b, "},\"discussion\":[");
        if (!rc)
            rc = dc__buf_put(b, talk.ptr, talk.size);
        if (!rc)
            rc = dc__buf_putc(b, ']');
    }
    if (!rc)
        rc = dc__buf_putc(b, '}');
    dc_buf_dispose(&talk);
    dc__strs_free(&outsiders);
    return rc;
}

typedef struct act_ctx {
    dc_buf b;
    size_t n;
    const dc__strs *members;
} act_ctx;

static int activity_one(void *user, const dc_record *rec) {
    act_ctx *a = user;
    dc_buf *b = &a->b;
    dc__strs joined = {0};
    int rc = dc__strs_from_set(&joined, rec, "joined");
    dc__strs_sort(&joined);
    size_t from_roster = 0;
    for (size_t i = 0; i < joined.n; i++)
        from_roster += dc__strs_has(a->members, joined.v[i]);
    if (!rc)
        rc = dc__buf_puts(b, a->n++ ? ",{\"activity\":" : "{\"activity\":");
    if (!rc)
        rc = dc__org_jstr(b, dc_record_id(rec));
    if (!rc && !(rc = dc__org_key(b, "title", false)))
        rc = dc__org_jfield(b, rec, "title");
    if (!rc && !(rc = dc__org_key(b, "date", false)))
        rc = dc__org_jfield(b, rec, "date");
    if (!rc)
        rc = dc__buf_printf(b, ",\"joined\":%zu,\"members_joined\":%zu,\"participants\":", joined.n,
                            from_roster);
    if (!rc)
        rc = dc__org_jset(b, rec, "joined");
    if (!rc)
        rc = dc__buf_putc(b, '}');
    dc__strs_free(&joined);
    return rc;
}

int dc_study_show(dc_buf *out, dc_replica *r, const char *space, const char *item) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_study_show: the replica handle is NULL");
    if (!out)
        return dc__model_fail(r, DC_EMISUSE, "dc_study_show: out is NULL");
    study_ctx c;
    memset(&c, 0, sizeof c);
    c.r = r;
    c.one = item && *item ? item : NULL;
    act_ctx a = {DC_BUF_INIT, 0, &c.members};
    dc_buf b = DC_BUF_INIT;
    int rc = dc__dom_each(r, space, "member", NULL, roster_one, &c);
    if (!rc) {
        dc__strs_sort(&c.members);
        size_t n = c.members.n ? c.members.n : 1;
        c.state = dc__calloc(n, sizeof *c.state);
        c.nread = dc__calloc(n, sizeof *c.nread);
        c.ndone = dc__calloc(n, sizeof *c.ndone);
        if (!c.state || !c.nread || !c.ndone)
            rc = DC_ENOMEM;
    }
    if (!rc)
        rc = dc__dom_each(r, space, "study", c.one, item_one, &c);
    if (!rc && c.one && !c.found)
        rc = dc__model_fail(r, DC_ENOTFOUND, "study show: no study item %s in this space", c.one);
    if (!rc && c.one) {
        rc = dc__buf_put(&b, c.items.ptr, c.items.size);
    } else if (!rc) {
        rc = dc__dom_each(r, space, "activity", NULL, activity_one, &a);
        if (!rc)
            rc = dc__buf_printf(&b, "{\"members\":%zu,\"items\":[", c.members.n);
        if (!rc)
            rc = dc__buf_put(&b, c.items.ptr, c.items.size);
        if (!rc)
            rc = dc__buf_puts(&b, "],\"by_member\":{");
        for (size_t i = 0; !rc && i < c.members.n; i++) {
            if (i)
                rc = dc__buf_putc(&b, ',');
            if (!rc)
                rc = dc__org_jstr(&b, c.members.v[i]);
            if (!rc)
                rc = dc__buf_printf(&b, ":{\"read\":%zu,\"done\":%zu,\"unread\":%zu}", c.nread[i],
                                    c.ndone[i], c.nitems - c.nread[i]);
        }
        if (!rc)
            rc = dc__buf_puts(&b, "},\"activities\":[");
        if (!rc)
            rc = dc__buf_put(&b, a.b.ptr, a.b.size);
        if (!rc)
            rc = dc__buf_puts(&b, "]}");
    }
    if (rc && !*dc_replica_errmsg(r))
        dc__model_fail(r, rc, "study show: %s", dc_strerror(rc));
    if (!rc)
        dc__org_out(out, &b);
    dc__strs_free(&c.members);
    dc__free(c.state);
    dc__free(c.nread);
    dc__free(c.ndone);
    dc_buf_dispose(&c.items);
    dc_buf_dispose(&a.b);
    dc_buf_dispose(&b);
    return rc;
}
