/*
 * model/secretary.c — the secretaries and instructors of mobile party
 * branches, each with a task list kept as events on the secretary's
 * record (the state of a task is that of its last event in clock order,
 * so offline tablets converge), and the JSON view of one of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/org_int.h"
#include "model/registry_int.h"

/* ======================================================================
 * Secretaries and instructors, with task lists
 *
 * A task is named by its text.  Adding it and marking it done or not done
 * are events {"task", "due", "done"} on the secretary's record; the state
 * of a task is that of its last event in event order (clock order), so two
 * offline tablets marking the same task converge on the later mark.
 * ====================================================================== */

static const char *const secretary_roles[] = {"secretary", "instructor", NULL};

int dc_secretary_put_txn(dc_buf *id, dc_replica *r, dc_txn *t, const dc_secretary_options *o) {
    int rc;
    if ((rc = dc__org_handles(r, t, "dc_secretary_put_txn")))
        return rc;
    if (!o || o->version != DC_SECRETARY_OPTIONS_VERSION)
        return dc__model_fail(r, o ? DC_EINVAL : DC_EMISUSE,
                              "secretary: options missing or of an unknown version");
    const char *role = o->role && *o->role ? o->role : "secretary";
    if ((rc = dc__org_prefixed(r, "secretary: the branch", o->branch, "branch-")) ||
        (rc = dc__org_id(r, "secretary: the person id", o->person)) ||
        (rc = dc__org_text(r, "secretary: the name", o->name, true)) ||
        (rc = dc__org_enum(r, "secretary: the role", role, secretary_roles)))
        return rc;
    if (o->from_dept && *o->from_dept &&
        (rc = dc__org_id(r, "secretary: the sending department", o->from_dept)))
        return rc;
    dc_buf sid = DC_BUF_INIT;
    if (dc__buf_printf(&sid, "%s/%s", o->branch, o->person))
        return dc__model_fail(r, DC_ENOMEM, "secretary: out of memory");
    const char *k = (const char *)sid.ptr;
    if (!(rc = dc_txn_set(t, "secretary", k, "name", DC_STR, 0, o->name)) &&
        !(rc = dc_txn_set(t, "secretary", k, "branch", DC_STR, 0, o->branch)) &&
        !(rc = dc__org_set_str(t, "secretary", k, "from_dept", o->from_dept)))
        rc = dc_txn_set(t, "secretary", k, "role", DC_STR, 0, role);
    if (!rc && id)
        dc__buf_move(id, &sid);
    dc_buf_dispose(&sid);
    return rc;
}

int dc_secretary_put(dc_buf *id, dc_replica *r, const char *space, const dc_secretary_options *o) {
    dc_txn *t;
    int rc = dc__org_begin(&t, r, space);
    if (rc)
        return rc;
    return dc__org_finish(t, dc_secretary_put_txn(id, r, t, o));
}

static int task_event(dc_txn *t, const char *secretary, const char *task, const char *due,
                      int done) {
    int rc = dc_txn_event(t, "secretary", secretary);
    if (!rc)
        rc = dc_txn_event_field(t, "task", DC_STR, 0, task);
    if (!rc)
        rc = dc_txn_event_field(t, "due", due && *due ? DC_STR : DC_NULL, 0, due);
    if (!rc)
        rc = dc_txn_event_field(t, "done", DC_BOOL, done != 0, NULL);
    return rc;
}

static int check_task(dc_replica *r, const char *secretary, const char *task, const char *due) {
    int rc;
    if ((rc = dc__org_text(r, "secretary: the secretary id", secretary, true)) ||
        (rc = dc__org_text(r, "secretary: the task", task, true)))
        return rc;
    if (due && *due && (rc = dc__org_date_check(r, "secretary: the due date", due)))
        return rc;
    return 0;
}

int dc_secretary_task_txn(dc_replica *r, dc_txn *t, const char *secretary, const char *task,
                          const char *due) {
    int rc;
    if ((rc = dc__org_handles(r, t, "dc_secretary_task_txn")) ||
        (rc = check_task(r, secretary, task, due)))
        return rc;
    return task_event(t, secretary, task, due, 0);
}

/* ---- folding the task events of one secretary ---- */

typedef struct task {
    char *task, *due;
    bool done;
} task;

typedef struct tasks {
    task *v;
    size_t n, cap;
} tasks;

static void tasks_free(tasks *ts) {
    for (size_t i = 0; i < ts->n; i++) {
        dc__free(ts->v[i].task);
        dc__free(ts->v[i].due);
    }
    dc__free(ts->v);
    memset(ts, 0, sizeof *ts);
}

static int tasks_fold(tasks *ts, const dc_record *rec) {
    int rc = 0;
    for (size_t i = 0; !rc && i < dc_record_event_count(rec); i++) {
        const dc_event *ev = dc_record_event(rec, i);
        const char *name = dc__ev_str(ev, "task"), *due = dc__ev_str(ev, "due");
        if (!name)
            continue; /* not a task event */
        task *k = NULL;
        for (size_t j = 0; j < ts->n && !k; j++)
            if (strcmp(ts->v[j].task, name) == 0)
                k = &ts->v[j];
        if (!k) {
            if (DC__VEC_ROOM(ts->v, ts->n, ts->cap)) {
                rc = DC_ENOMEM;
                break;
            }
            k = &ts->v[ts->n];
            memset(k, 0, sizeof *k);
            if (!(k->task = dc__strndup(name, strlen(name)))) {
                rc = DC_ENOMEM;
                break;
            }
            ts->n++;
        }
        k->done = dc__ev_bool(ev, "done") == 1;
        if (due) {
            dc__free(k->due);
            if (!(k->due = dc__strndup(due, strlen(due))))
                rc = DC_ENOMEM;
        }
    }
    return rc;
}

typedef struct task_lookup {
    const char *task;
    bool secretary, found;
    char *due;
} task_lookup;

static int lookup_task(void *user, const dc_record *rec) {
    task_lookup *l = user;
    tasks ts = {0};
    l->secretary = true;
    int rc = tasks_fold(&ts, rec);
    for (size_t i = 0; !rc && i < ts.n; i++)
        if (strcmp(ts.v[i].task, l->task) == 0) {
            l->found = true;
            if (ts.v[i].due && !(l->due = dc__strndup(ts.v[i].due, strlen(ts.v[i].due))))
                rc = DC_ENOMEM;
        }
    tasks_free(&ts);
    return rc;
}

int dc_secretary_task(dc_replica *r, const char *space, const char *secretary, const char *task,
                      const char *due) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_secretary_task: the replica handle is NULL");
    int rc = check_task(r, secretary, task, due);
    if (rc)
        return rc;
    rc = dc__org_exists(r, space, "secretary", secretary);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return dc__model_fail(r, DC_ENOTFOUND, "secretary: no secretary %s in this space",
                              secretary);
    dc_txn *t;
    if ((rc = dc__org_begin(&t, r, space)))
        return rc;
    return dc__org_finish(t, task_event(t, secretary, task, due, 0));
}

int dc_secretary_done(dc_replica *r, const char *space, const char *secretary, const char *task,
                      int done) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_secretary_done: the replica handle is NULL");
    int rc = check_task(r, secretary, task, NULL);
    if (rc)
        return rc;
    task_lookup l = {task, false, false, NULL};
    rc = dc__dom_each(r, space, "secretary", secretary, lookup_task, &l);
    if (!rc && !l.secretary)
        rc = dc__model_fail(r, DC_ENOTFOUND, "secretary: no secretary %s in this space", secretary);
    else if (!rc && !l.found)
        rc = dc__model_fail(r, DC_ENOTFOUND,
                            "secretary: %s has no task '%.100s' (add it "
                            "first)",
                            secretary, task);
    dc_txn *t = NULL;
    if (!rc && !(rc = dc__org_begin(&t, r, space)))
        rc = dc__org_finish(t, task_event(t, secretary, task, l.due, done));
    if (rc && !*dc_replica_errmsg(r))
        dc__model_fail(r, rc, "secretary: %s", dc_strerror(rc));
    dc__free(l.due);
    return rc;
}

typedef struct sec_walk {
    dc_buf b;
    size_t n;
} sec_walk;

static int secretary_one(void *user, const dc_record *rec) {
    sec_walk *w = user;
    dc_buf *b = &w->b;
    tasks ts = {0};
    int rc = tasks_fold(&ts, rec);
    if (!rc)
        rc = dc__buf_puts(b, w->n++ ? ",{\"secretary\":" : "{\"secretary\":");
    if (!rc)
        rc = dc__org_jstr(b, dc_record_id(rec));
    static const char *const fields[] = {"name", "branch", "from_dept", "role"};
    for (size_t i = 0; !rc && i < 4; i++)
        if (!(rc = dc__org_key(b, fields[i], false)))
            rc = dc__org_jfield(b, rec, fields[i]);
    size_t done = 0;
    if (!rc)
        rc = dc__buf_puts(b, ",\"tasks\":[");
    for (size_t i = 0; !rc && i < ts.n; i++) {
        done += ts.v[i].done;
        rc = dc__buf_puts(b, i ? ",{\"task\":" : "{\"task\":");
        if (!rc)
            rc = dc__org_jstr(b, ts.v[i].task);
        if (!rc && !(rc = dc__org_key(b, "due", false)))
            rc = dc__org_jstr(b, ts.v[i].due);
        if (!rc)
            rc = dc__buf_printf(b, ",\"done\":%s}", ts.v[i].done ? "true" : "false");
    }
    if (!rc)
        rc = dc__buf_printf(b, "],\"open\":%zu,\"done\":%zu}", ts.n - done, done);
    tasks_free(&ts);
    return rc;
}

int dc_secretary_show(dc_buf *out, dc_replica *r, const char *space, const char *secretary) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_secretary_show: the replica handle is NULL");
    if (!out)
        return dc__model_fail(r, DC_EMISUSE, "dc_secretary_show: out is NULL");
    sec_walk w = {DC_BUF_INIT, 0};
    const char *one = secretary && *secretary ? secretary : NULL;
    int rc = dc__buf_puts(&w.b, "{\"secretaries\":[");
    if (!rc)
        rc = dc__dom_each(r, space, "secretary", one, secretary_one, &w);
    if (!rc && one && w.n == 0)
        rc = dc__model_fail(r, DC_ENOTFOUND, "secretary: no secretary %s in this space", one);
    if (!rc)
        rc = dc__buf_puts(&w.b, "]}");
    if (rc && !*dc_replica_errmsg(r))
        dc__model_fail(r, rc, "secretary show: %s", dc_strerror(rc));
    if (!rc)
        dc__org_out(out, &w.b);
    dc_buf_dispose(&w.b);
    return rc;
}
