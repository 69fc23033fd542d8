/*
 * tools/demo_data_cases.c — demo-data's grievances, filed and handled
 * through dc_case_file and dc_case_step each at its own instant on the
 * simulated clock (so receipts, steps and deadlines fall on 2026 working
 * days), and one driver's phone: his profile and check-ins.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo_data.h"
#include "vec.h"

/* ---- grievances: filed and handled on the simulated clock ---- */

enum { A_FILE, A_TRANSFER, A_FEEDBACK, A_REPLY, A_RESOLVE, A_REVISIT, A_CLOSE };
static const char *const ACTIONS[] = {"file",    "transfer", "feedback", "reply",
                                      "resolve", "revisit",  "close"};
enum { TO_BRANCH, TO_COMMITTEE, TO_JM_COUNTY, TO_JM_CITY };

typedef struct cstep {
    int64_t t;
    uint32_t seq; /* order of planning: keeps a case's steps in order on ties */
    int kase;
    uint8_t action, to;
    int8_t satisfied;
} cstep;

typedef struct kase {
    long driver;     /* index, or -1: an unregistered hotline caller */
    char caller[19]; /* his identity number */
    int county;
    int channel, category;
    bool emergency;
    long amount; /* yuan, for freight arrears */
    char id[20]; /* "gr-..." once filed */
} kase;

static const char *const CHANNELS[] = {"12328", "group", "12345", "station", "app"};
static const int CHANNEL_W[] = {35, 30, 15, 10, 10};
static const char *const CATEGORIES[] = {"freight_arrears", "road_passage", "enforcement",
                                         "services",        "insurance",    "contract",
                                         "consultation",    "help",         "suggestion"};
static const int CATEGORY_W[] = {30, 15, 12, 10, 6, 6, 12, 6, 3};

static int weighted(const int *w, int n) {
    int total = 0, x;
    for (int i = 0; i < n; i++)
        total += w[i];
    x = (int)demo_rn((uint32_t)total);
    for (int i = 0; i < n; i++)
        if ((x -= w[i]) < 0)
            return i;
    return n - 1;
}

static void case_text(char *out, size_t cap, const kase *k) {
    const char *where = COUNTIES[k->county].name;
    switch (k->category) {
    case 0: snprintf(out, cap, "货主拖欠运费%ld元，多次催要未果，请求帮助追讨", k->amount); break;
    case 1: snprintf(out, cap, "%s城区货车限行时段调整，装卸货车辆通行困难", where); break;
    case 2: snprintf(out, cap, "对%s超限检测站的处罚有异议，请求复核", where); break;
    case 3: snprintf(out, cap, "%s附近服务区夜间停车位不足，无法正常休息", where); break;
    case 4: snprintf(out, cap, "车辆事故后保险理赔迟迟未到账"); break;
    case 5: snprintf(out, cap, "物流平台单方面下调运价，运输合同发生纠纷"); break;
    case 6: snprintf(out, cap, "咨询道路运输从业资格证年审和异地转籍办理"); break;
    case 7:
        snprintf(out, cap,
                 k->emergency ? "车辆在%s境内高速遇恶劣天气被困，请求紧急救援"
                              : "车辆在%s抛锚，请求协调拖车",
                 where);
        break;
    default: snprintf(out, cap, "建议在%s物流园增设货车司机休息室和淋浴间", where); break;
    }
}

static int cmp_step(const void *a, const void *b) {
    const cstep *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

typedef struct plan {
    cstep *s;
    size_t n, cap;
    uint32_t seq;
    int64_t last; /* time of the case's previous step */
    bool at_once; /* an emergency's step: may share the previous step's instant */
} plan;

static int push(plan *p, int k, int action, int64_t t, int to, int satisfied) {
    if (VEC_ROOM(p->s, p->n, p->cap))
        return -1;
    /* A case's steps are strictly in order (a minute apart at least), but
     * an emergency's may come at the very instant of the step before (the
     * receipt, the resolution): "at once". */
    if (action != A_FILE && !(p->at_once && t == p->last) && t <= p->last)
        t = p->last + MIN_MS;
    p->last = t;
    cstep *c = &p->s[p->n++];
    c->t = t;
    c->seq = p->seq++;
    c->kase = k;
    c->action = (uint8_t)action;
    c->to = (uint8_t)to;
    c->satisfied = (int8_t)satisfied;
    return 0;
}

/* A moment before `due` (on time), or after it (late), at least a minute
 * after the previous step. */
static int64_t around(const plan *p, int64_t due, bool on_time, int64_t late_span) {
    if (on_time) {
        int64_t lo = p->last + 30 * MIN_MS, hi = due - 30 * MIN_MS;
        if (hi <= lo)
            return p->last + MIN_MS < due ? p->last + MIN_MS : due;
        return lo + (int64_t)(demo_rnd() % (uint64_t)(hi - lo));
    }
    return due + HOUR_MS + (int64_t)(demo_rnd() % (uint64_t)late_span);
}

/* A receipt between day0 and day0 + span days, between 07:00 and 22:00 CST. */
static int64_t receipt(int64_t day0, int span) {
    return day0 + (int64_t)demo_rn((uint32_t)span) * DAY_MS + 7 * HOUR_MS +
           (int64_t)demo_rn(15 * 60) * MIN_MS + (int64_t)demo_rn(60) * 1000;
}

static int plan_case(gen *g, plan *p, int k, bool resolved, const kase *c) {
    const dc_calendar *cal = g->cal;
    int64_t t0 = resolved ? receipt(demo_cst(2026, 1, 6, 0, 0), 298)
                          : receipt(demo_cst(2026, 9, 15, 0, 0), 51);
    p->last = t0;
    if (push(p, k, A_FILE, t0, 0, -1))
        return -1;
    /* An emergency is transferred, fed back and answered at once (mostly:
     * some a quarter of an hour late); an ordinary case is transferred
     * within 2 hours, mostly. */
    bool at_once = c->emergency && demo_chance(0.85);
    int64_t tr = c->emergency        ? (at_once ? t0 : t0 + 15 * MIN_MS)
                 : demo_chance(0.94) ? t0 + (5 + (int64_t)demo_rn(105)) * MIN_MS
                                     : t0 + (130 + (int64_t)demo_rn(270)) * MIN_MS;
    p->at_once = c->emergency;
    if (push(p, k, A_TRANSFER, tr, TO_BRANCH, -1))
        return -1;
    if (c->emergency && (push(p, k, A_FEEDBACK, tr, 0, -1) || push(p, k, A_REPLY, tr, 0, -1)))
        return -1;
    p->at_once = false;
    /* Climbing the chain: a third to the committee, some on to the joint
     * meeting, a few to the city's (the only ones that leave the county). */
    if (demo_chance(0.35)) {
        if (push(p, k, A_TRANSFER, p->last + (1 + (int64_t)demo_rn(20)) * HOUR_MS, TO_COMMITTEE,
                 -1))
            return -1;
        if (demo_chance(0.3) &&
            push(p, k, A_TRANSFER, p->last + (1 + (int64_t)demo_rn(24)) * HOUR_MS,
                 demo_chance(0.25) ? TO_JM_CITY : TO_JM_COUNTY, -1))
            return -1;
    }
    int stop = resolved ? 9 : (int)demo_rn(100); /* where an open case stands now */
    if (!resolved && stop < 30)
        return 0;
    bool quick = resolved && demo_chance(0.3); /* settled within a day, like the 4,200 yuan */
    if (!quick && !c->emergency) {
        int64_t fb = dc_calendar_end_of_workdays(cal, t0, 2);
        if (push(p, k, A_FEEDBACK, around(p, fb, demo_chance(0.93), 40 * HOUR_MS), 0, -1))
            return -1;
        if (!resolved && stop < 65)
            return 0;
        int64_t rp = dc_calendar_end_of_workdays(cal, t0, 5);
        if (push(p, k, A_REPLY, around(p, rp, demo_chance(0.9), 72 * HOUR_MS), 0, -1))
            return -1;
        if (!resolved && stop < 85)
            return 0;
    }
    int64_t rs = p->last + (quick ? (2 + (int64_t)demo_rn(18)) * HOUR_MS
                                  : (2 + (int64_t)demo_rn(94)) * HOUR_MS);
    if (push(p, k, A_RESOLVE, rs, 0, -1))
        return -1;
    if (!resolved) /* resolved, then the driver was not satisfied: open again */
        return push(p, k, A_REVISIT, p->last + (4 + (int64_t)demo_rn(30)) * HOUR_MS, 0, 0);
    if (!demo_chance(0.9))
        return 0; /* not revisited (yet) */
    int64_t rv = dc_calendar_end_of_workdays(cal, p->last, 2);
    bool happy = demo_chance(0.96);
    /* An emergency's return visit is at once too: the call that confirms
     * the driver is safe, at the resolution. */
    p->at_once = at_once;
    if (push(p, k, A_REVISIT, at_once ? p->last : around(p, rv, demo_chance(0.95), 48 * HOUR_MS), 0,
             happy))
        return -1;
    p->at_once = false;
    if (!happy) { /* reopened by the fold; resolved again and revisited */
        if (push(p, k, A_RESOLVE, p->last + (1 + (int64_t)demo_rn(5)) * DAY_MS, 0, -1))
            return -1;
        rv = dc_calendar_end_of_workdays(cal, p->last, 2);
        if (push(p, k, A_REVISIT, around(p, rv, true, HOUR_MS), 0, 1))
            return -1;
    }
    if (demo_chance(0.6) &&
        push(p, k, A_CLOSE, p->last + (1 + (int64_t)demo_rn(3)) * DAY_MS, 0, -1))
        return -1;
    return 0;
}

static void transfer_target(char *out, size_t cap, const gen *g, const kase *c, int to) {
    const county *co = &COUNTIES[c->county];
    switch (to) {
    case TO_BRANCH:
        if (g->county_branch[c->county] >= 0)
            snprintf(out, cap, "%s", g->b[g->county_branch[c->county]].org);
        else /* no branch in the county (small scales): its committee */
            snprintf(out, cap, "committee-%s", co->committee ? co->code : CITIES[co->city].code);
        break;
    case TO_COMMITTEE:
        snprintf(out, cap, "committee-%s", co->committee ? co->code : CITIES[co->city].code);
        break;
    case TO_JM_COUNTY: snprintf(out, cap, "joint_meeting-%s", co->code); break;
    default: snprintf(out, cap, "joint_meeting-%s", CITIES[co->city].code); break;
    }
}

int demo_gen_cases(gen *g) {
    long n = g->f.cases;
    kase *ks = calloc((size_t)n, sizeof *ks);
    long *order = malloc((size_t)n * sizeof *order);
    plan p = {NULL, 0, 0, 0, 0, false};
    int rc = EXIT_OK;
    if (!ks || !order) {
        free(ks), free(order);
        return fail("demo-data: out of memory");
    }
    for (long k = 0; k < n; k++)
        order[k] = k;
    for (long k = 0; k + 1 < n; k++) { /* which cases end resolved */
        long j = k + (long)demo_rn((uint32_t)(n - k));
        long t = order[k];
        order[k] = order[j], order[j] = t;
    }
    for (long k = 0; k < n; k++) {
        kase *c = &ks[k];
        c->driver = demo_chance(0.95) ? (long)demo_rn((uint32_t)g->nd) : -1;
        if (c->driver >= 0) {
            c->county = g->d[c->driver].county;
        } else {
            c->county = (int)demo_rn(NCOUNTY);
            demo_id_number(c->caller, COUNTIES[c->county].code, true);
        }
        c->channel = weighted(CHANNEL_W, 5);
        c->category = weighted(CATEGORY_W, 9);
        c->emergency = c->category == 7 && demo_chance(0.35);
        c->amount = k == 0 ? 4200 : 500 + (long)demo_rn(120) * 100;
        if (k == 0)
            c->category = 0; /* the report's: 4,200 yuan of freight */
    }
    for (long r = 0; r < n && rc == EXIT_OK; r++) {
        long k = order[r];
        if (plan_case(g, &p, (int)k, r < g->f.resolved, &ks[k]))
            rc = fail("demo-data: out of memory");
    }
    free(order);
    if (rc == EXIT_OK)
        qsort(p.s, p.n, sizeof *p.s, cmp_step);
    static const char *const NOTE[] = {NULL,
                                       NULL,
                                       "已联系相关单位，正在协调处理",
                                       "经协调，已形成处理意见并答复司机",
                                       "诉求已办结",
                                       NULL,
                                       "办结归档"};
    progress_stage(&g->pg, "demo-data: grievances", "steps", (uint64_t)p.n);
    for (size_t i = 0; i < p.n && rc == EXIT_OK; i++) {
        const cstep *s = &p.s[i];
        kase *c = &ks[s->kase];
        int drc;
        progress_update(&g->pg, (uint64_t)i, -1);
        demo_sim_ms = s->t;
        if (s->action == A_FILE) {
            char text[300];
            dc_buf out = DC_BUF_INIT;
            if (!g->desk[c->county][0]) {
                if (demo_new_space(g, g->desk[c->county], "desk %s", COUNTIES[c->county].code)) {
                    rc = EXIT_FAIL;
                    break;
                }
                g->ndesks++;
            }
            case_text(text, sizeof text, c);
            dc_case_options o = DC_CASE_OPTIONS_INIT;
            if (c->driver >= 0) {
                if (!(o.driver = demo_did_of(g, c->driver))) {
                    rc = demo_die(g, dc_replica_errcode(g->r), "registry driver id");
                    break;
                }
            } else {
                o.caller_id_number = c->caller;
                o.registry = g->registry;
            }
            o.channel = CHANNELS[c->channel];
            o.category = CATEGORIES[c->category];
            o.text = text;
            o.emergency = c->emergency;
            o.region = COUNTIES[c->county].code;
            /* Money owed (freight arrears, contract disputes) carries its
             * amount, as the report's 4,200 yuan. */
            if (c->category == 0 || c->category == 5)
                o.amount = c->amount;
            drc = dc_case_file(&out, g->r, g->desk[c->county], &o, g->cal);
            if (drc == 0) {
                const char *q = strstr((const char *)out.ptr, "\"case\":\"");
                if (q)
                    snprintf(c->id, sizeof c->id, "%.15s", q + 8);
                char *quote = strchr(c->id, '"');
                if (quote)
                    *quote = '\0';
            }
            dc_buf_dispose(&out);
        } else {
            char to[64];
            const char *note = NOTE[s->action];
            if (s->action == A_REVISIT)
                note = s->satisfied ? "回访：司机表示满意" : "回访：司机表示不满意，要求重新办理";
            if (s->action == A_TRANSFER)
                transfer_target(to, sizeof to, g, c, s->to);
            drc = dc_case_step_in(NULL, g->r, g->desk[c->county], c->id, ACTIONS[s->action],
                                  s->action == A_TRANSFER ? to : NULL, note,
                                  s->action == A_REVISIT ? s->satisfied : -1, g->cal);
        }
        if (drc)
            rc = demo_die(g, drc, s->action == A_FILE ? "case file" : "case step");
    }
    free(p.s);
    free(ks);
    return rc;
}

/* ---- one driver's phone: his profile and check-ins at Wudang's Home ---- */

int demo_gen_personal(gen *g) {
    char sp[33], at_date[11];
    const char *did;
    DID(g, 0, did); /* driver 0 works in Wudang */
    if (demo_new_space(g, sp, "driver %s", did))
        return EXIT_FAIL;
    dc_txn *t = NULL;
    CK(g, dc_txn_begin(&t, g->r, sp), "profile");
    demo_date_of(at_date, demo_sim_ms);
    if (dc_txn_set(t, "profile", did, "activity_area", DC_STR, 0, "520112") ||
        dc_txn_set(t, "profile", did, "business_scope", DC_STR, 0, "cold_chain")) {
        dc_txn_rollback(t);
        return demo_die(g, dc_replica_errcode(g->r), "profile");
    }
    CK(g, dc_txn_commit(t, NULL), "profile");
    static const char *const USED[] = {"massage_chairs", "showers", "meals"};
    static const char *const SAID[] = {"刚从山东拉货回来，按摩椅很解乏", "能洗上热水澡，真方便",
                                       "吃上了热乎饭"};
    char station[32];
    snprintf(station, sizeof station, "dh-%s-01", COUNTIES[WUDANG].code);
    for (int k = 0; k < 3; k++) {
        dc_checkin_options o = DC_CHECKIN_OPTIONS_INIT;
        o.station = station;
        o.at_ms = demo_cst(2026, 6 + k, 10 + k, 18, 30);
        o.used = USED[k];
        o.feedback = SAID[k];
        o.rating = 5;
        CK(g, dc_checkin(g->r, sp, &o), "check-in");
    }
    return EXIT_OK;
}
