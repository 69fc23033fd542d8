/*
 * tools/demo_data.h — what the files of `drivercore demo-data` share: the
 * generator's state (gen), the regions of Guizhou, the report's figures,
 * the simulated clock and the seeded random numbers, the generated names
 * and numbers, and the batches of transactions.  cmd_demo_data.c holds
 * these and the command; demo_data_org.c writes the directory and the
 * branches, demo_data_registry.c the drivers (registry imports, parts,
 * moves), demo_data_cases.c the grievances and one driver's phone.
 */
#ifndef DC_TOOLS_DEMO_DATA_H
#define DC_TOOLS_DEMO_DATA_H

#include <stdbool.h>
#include <stdint.h>

#include "domain_tool.h"
#include "tool.h"

/* ---- the simulated clock and the random numbers ---- */

/* The clock the replica is opened with (ms since the epoch); the seeded
 * generator's state. */
extern int64_t demo_sim_ms;
extern uint64_t demo_rng;

uint64_t demo_rnd(void);
uint64_t demo_mix64(uint64_t z);
/* Uniform in [0, n). */
uint32_t demo_rn(uint32_t n);
bool demo_chance(double p);
double demo_now_s(void);
/* An instant of China Standard Time, in ms. */
int64_t demo_cst(int y, int mo, int d, int h, int mi);
void demo_date_of(char out[11], int64_t ms);

#define MIN_MS ((int64_t)60000)
#define HOUR_MS ((int64_t)3600000)
#define DAY_MS ((int64_t)86400000)

/* ---- the regions of Guizhou (GB/T 2260 codes) ---- */

typedef struct city {
    const char *code, *name, *seat; /* seat: the short name used in routes */
    const char *plate;              /* licence-plate prefix */
} city;

#define NCITY 9

typedef struct county {
    const char *code, *name;
    int city;       /* index into CITIES */
    int weight;     /* relative number of drivers */
    bool committee; /* has its own industry committee (3 small zones share the host's) */
} county;

#define NCOUNTY 98
#define WUDANG 3     /* index of 乌当区 */
#define WANSHAN 43   /* 万山区 */
#define ANSHUN_ED 93 /* 安顺经济技术开发区 */

extern const city CITIES[NCITY];
extern const county COUNTIES[NCOUNTY];
/* Townships and villages of Wudang, so the directory has all five levels. */
extern const char *const WUDANG_TOWNS[7][2];
extern const char *const WUDANG_VILLAGES[3][2];

/* ---- the report's figures, scaled ---- */

typedef struct figures {
    long drivers, pm, operators, committees, branches, secretaries, cadres, liaison_pm,
        liaison_drivers, stations, joint_meetings, study, cases, resolved;
    long wudang_enterprises, wudang_drivers, wudang_pm;
} figures;

long demo_round_pos(double x);
long demo_scaled(long v, double f);

/* ---- names, numbers, plates ---- */

void demo_person_name(char *out, size_t cap);
void demo_id_number(char out[19], const char *region, bool male);
void demo_phone_number(char out[12]);
void demo_plate(char *out, size_t cap, int city, bool trailer);
void demo_route(char *out, size_t cap, int city);
const char *demo_scope_of(void);

/* ---- a growable text buffer (the tool has only the public API) ---- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

int demo_sb_printf(sbuf *b, const char *fmt, ...) TOOL_PRINTF(2, 3);

/* ---- the generator's state ---- */

typedef struct drv {
    char idn[19];
    uint8_t county, status; /* status: index into STATUS_CODES */
    uint8_t male;
    char did[25]; /* "drv-..." once asked of the registry, else "" */
    int branch;   /* index of his branch, or -1 */
} drv;

enum { S_MASSES, S_APPLICANT, S_ACTIVIST, S_CANDIDATE, S_PROBATIONARY, S_MEMBER };
extern const char *const STATUS_CODES[];

typedef struct branch {
    int county;
    char code[16];  /* "<county>-<nn>" */
    char org[32];   /* "branch-<code>" */
    char space[33]; /* the branch's own space (roster, study) */
    char rpart[33]; /* its registry part (its party members' records) */
    int *members;   /* driver indices */
    int nmembers;
    size_t cap;
} branch;

typedef struct gen {
    dc_replica *r;
    const dc_calendar *cal;
    figures f;
    double scale;
    unsigned long long seed;
    char directory[33], registry[33]; /* registry: the root */
    char cpart[NCOUNTY][33];          /* county registry parts */
    long *cdrv[NCOUNTY];              /* drivers each county part keeps (not in a branch) */
    long ncdrv[NCOUNTY];
    long moves;
    progress pg;
    drv *d;
    long nd;
    branch *b;
    int nb;
    int county_branch[NCOUNTY]; /* first branch of a county, or -1 */
    char desk[NCOUNTY][33];     /* desk space of a county ("" until its first case) */
    int ndesks;
    long csv_rows, flagged;
    double secs[8];
    char enterprise[NCOUNTY][4][160]; /* a few enterprise names per county, for employers */
} gen;

int demo_die(gen *g, int rc, const char *what);

#define CK(g, call, what)                                                                          \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != 0)                                                                              \
            return demo_die((g), rc_, (what));                                                     \
    } while (0)

/* A transaction on `space`, committed when it grows past `limit` ops. */
typedef struct batch {
    gen *g;
    const char *space;
    dc_txn *t;
} batch;

int demo_batch_flush(batch *b);
dc_txn *demo_batch_txn(batch *b, int *rc);

#define BT(bt, call, what)                                                                         \
    do {                                                                                           \
        int rc_;                                                                                   \
        dc_txn *t = demo_batch_txn((bt), &rc_);                                                    \
        if (!t || (rc_ = (call)) != 0) {                                                           \
            dc_txn_rollback((bt)->t);                                                              \
            (bt)->t = NULL;                                                                        \
            return demo_die((bt)->g, rc_, (what));                                                 \
        }                                                                                          \
    } while (0)

int demo_new_space(gen *g, char out[33], const char *fmt, ...) TOOL_PRINTF(3, 4);

/* ---- the phases, in the order the command runs them ---- */

int demo_gen_directory(gen *g); /* demo_data_org.c */
int demo_plan_drivers(gen *g);  /* demo_data_registry.c */
int demo_plan_branches(gen *g); /* demo_data_org.c */
int demo_gen_parts(gen *g);     /* demo_data_registry.c */
int demo_gen_registry(gen *g);  /* demo_data_registry.c */
int demo_gen_moves(gen *g);     /* demo_data_registry.c */
int demo_gen_branches(gen *g);  /* demo_data_org.c */
int demo_gen_cases(gen *g);     /* demo_data_cases.c */
int demo_gen_personal(gen *g);  /* demo_data_cases.c */

/* The registry id of driver i (asked of the registry once); NULL with the
 * replica's error. */
const char *demo_did_of(gen *g, long i);
#define DID(g, i, out)                                                                             \
    do {                                                                                           \
        if (!((out) = demo_did_of((g), (i))))                                                      \
            return demo_die((g), dc_replica_errcode((g)->r), "registry driver id");                \
    } while (0)

#endif
