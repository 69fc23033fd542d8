/*
 * The holiday calendar and working-day arithmetic behind the 12328
 * deadlines.  The State Council publishes each year which days are off and
 * which weekend days are worked in their place; that schedule is data
 * (data/cn-holidays-YYYY.tsv, or `holiday` records in the public directory
 * space), so the deadlines of next year need a new file, not new code.
 * Every date here is a civil date in China Standard Time (UTC+8, no
 * daylight saving), held as a day number since 1970-01-01 so that the
 * arithmetic never touches the C library's time zone machinery.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/read.h"

#define DAY_MS ((int64_t)86400000)
#define CST_MS ((int64_t)8 * 3600 * 1000)
#define MAX_WORKDAYS 100000
#define NAME_MAX_BYTES 200

typedef struct cal_day {
    int32_t day; /* days since 1970-01-01 */
    char kind;   /* 'o' off, 'w' work */
    char *name;  /* owned, "" when none */
    int line;    /* the TSV line it came from (0 for a record), for messages */
} cal_day;

struct dc_calendar {
    cal_day *days; /* sorted by day, no duplicates */
    size_t n, cap;
};

/* ---- civil dates (H. Hinnant's algorithms, exact for the proleptic
 * Gregorian calendar) ---- */

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m) {
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

static bool valid_date(int64_t y, int m, int d) {
    return y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

/* Parses exactly "YYYY-MM-DD" (n bytes) into a day number. */
static bool parse_date(const char *s, size_t n, int32_t *day) {
    if (n != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (size_t i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    if (!valid_date(y, m, d))
        return false;
    *day = (int32_t)days_from_civil(y, m, d);
    return true;
}

static void format_date(char out[11], int32_t day) {
    int64_t y;
    int m, d;
    civil_from_days(day, &y, &m, &d);
    /* Through a wider buffer: the compiler cannot see that the calendar's
     * days stay within years 0000..9999, and a date never needs more. */
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02d", (int)y, m, d);
    memcpy(out, tmp, 10);
    out[10] = 0;
}

static int year_of(int32_t day) {
    int64_t y;
    int m, d;
    civil_from_days(day, &y, &m, &d);
    return (int)y;
}

/* ---- the calendar ---- */

static const cal_day *find_day(const dc_calendar *c, int32_t day) {
    size_t lo = 0, hi = c ? c->n : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->days[mid].day == day)
            return &c->days[mid];
        if (c->days[mid].day < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static bool workday(const dc_calendar *c, int64_t day) {
    const cal_day *e = day >= INT32_MIN && day <= INT32_MAX ? find_day(c, (int32_t)day) : NULL;
    if (e)
        return e->kind == 'w';
    /* 1970-01-01 was a Thursday: (day + 4) mod 7 is 0 on Sundays. */
    int64_t wd = ((day % 7) + 7 + 4) % 7;
    return wd >= 1 && wd <= 5;
}

void dc_calendar_free(dc_calendar *c) {
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        dc__free(c->days[i].name);
    dc__free(c->days);
    dc__free(c);
}

/* Appends a day (unsorted); sort_days() orders them afterwards. */
static int add_day(dc_calendar *c, int32_t day, char kind, const char *name, size_t nlen) {
    if (DC__VEC_ROOM(c->days, c->n, c->cap))
        return DC_ENOMEM;
    char *nm = dc__strndup(name ? name : "", name ? nlen : 0);
    if (!nm)
        return DC_ENOMEM;
    c->days[c->n].day = day;
    c->days[c->n].kind = kind;
    c->days[c->n].name = nm;
    c->days[c->n].line = 0;
    c->n++;
    return 0;
}

static int cmp_day(const void *a, const void *b) {
    const cal_day *p = a, *q = b;
    if (p->day != q->day)
        return (p->day > q->day) - (p->day < q->day);
    return (p->line > q->line) - (p->line < q->line);
}

/* Sorts the days; returns the index of a duplicated date, or -1. */
static long sort_days(dc_calendar *c) {
    if (c->n > 1)
        qsort(c->days, c->n, sizeof *c->days, cmp_day);
    for (size_t i = 1; i < c->n; i++)
        if (c->days[i].day == c->days[i - 1].day)
            return (long)i;
    return -1;
}

static int parse_into(dc_calendar *c, const uint8_t *tsv, size_t n, dc__err *e) {
    const char *p = (const char *)tsv, *end = p + n;
    int line = 0, rc = 0;
    if (!dc__utf8_valid(tsv, n))
        return dc__err_set(e, DC_EINVAL, "calendar: the text is not valid UTF-8");
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        line++;
        size_t len = (size_t)(le - p);
        if (len > 0 && p[len - 1] == '\r')
            len--;
        const char *s = p;
        p = eol ? eol + 1 : end;
        size_t k = 0;
        while (k < len && (s[k] == ' ' || s[k] == '\t'))
            k++;
        if (k == len || s[k] == '#')
            continue;
        if (memchr(s, '\0', len)) {
            rc = dc__err_set(e, DC_EINVAL, "calendar: line %d: contains a NUL byte", line);
            break;
        }
        const char *t1 = memchr(s, '\t', len);
        if (!t1) {
            rc = dc__err_set(e, DC_EINVAL,
                             "calendar: line %d: expected DATE<TAB>off|work"
                             "[<TAB>NAME], found no tab",
                             line);
            break;
        }
        int32_t day;
        if (!parse_date(s, (size_t)(t1 - s), &day)) {
            rc = dc__err_set(e, DC_EINVAL,
                             "calendar: line %d: '%.*s' is not a date "
                             "YYYY-MM-DD",
                             line, (int)((t1 - s) > 40 ? 40 : (t1 - s)), s);
            break;
        }
        const char *k0 = t1 + 1, *lend = s + len;
        const char *t2 = memchr(k0, '\t', (size_t)(lend - k0));
        size_t klen = (size_t)((t2 ? t2 : lend) - k0);
        char kind;
        if (klen == 3 && memcmp(k0, "off", 3) == 0)
            kind = 'o';
        else if (klen == 4 && memcmp(k0, "work", 4) == 0)
            kind = 'w';
        else {
            rc = dc__err_set(e, DC_EINVAL,
                             "calendar: line %d: kind '%.*s' is neither 'off' "
                             "nor 'work'",
                             line, (int)(klen > 40 ? 40 : klen), k0);
            break;
        }
        const char *nm = t2 ? t2 + 1 : "";
        size_t nlen = t2 ? (size_t)(lend - nm) : 0;
        if (nlen > NAME_MAX_BYTES) {
            rc = dc__err_set(e, DC_EINVAL,
                             "calendar: line %d: the name is longer than %d "
                             "bytes",
                             line, NAME_MAX_BYTES);
            break;
        }
        if ((rc = add_day(c, day, kind, nm, nlen)) != 0) {
            dc__err_set(e, rc, "calendar: out of memory");
            break;
        }
        c->days[c->n - 1].line = line;
    }
    if (rc == 0) {
        long dup = sort_days(c);
        if (dup >= 0) {
            char d[11];
            format_date(d, c->days[dup].day);
            rc = dc__err_set(e, DC_EINVAL, "calendar: line %d: %s is already listed on line %d",
                             c->days[dup].line, d, c->days[dup - 1].line);
        }
    }
    return rc;
}

int dc_calendar_parse(dc_calendar **out, const uint8_t *tsv, size_t n) {
    dc__err e;
    dc__err_clear(&e);
    if (!out)
        return dc__last_set(DC_EMISUSE, "dc_calendar_parse: out is NULL");
    *out = NULL;
    if (!tsv && n)
        return dc__last_set(DC_EMISUSE, "dc_calendar_parse: the text is NULL");
    int rc = dc__ensure_init();
    if (rc)
        return rc;
    dc_calendar *c = dc__calloc(1, sizeof *c);
    if (!c)
        return dc__last_set(DC_ENOMEM, "calendar: out of memory");
    if ((rc = parse_into(c, tsv ? tsv : (const uint8_t *)"", n, &e)) != 0) {
        dc_calendar_free(c);
        return dc__last_from(&e);
    }
    dc__last_clear();
    *out = c;
    return 0;
}

int dc_calendar_load_file(dc_calendar **out, const char *path) {
    if (!out)
        return dc__last_set(DC_EMISUSE, "dc_calendar_load_file: out is NULL");
    *out = NULL;
    if (!path)
        return dc__last_set(DC_EMISUSE, "dc_calendar_load_file: path is NULL");
    FILE *f = fopen(path, "rb");
    if (!f)
        return dc__last_set(DC_EIO, "calendar '%s': cannot open: %s", path, strerror(errno));
    dc_buf b = DC_BUF_INIT;
    char chunk[8192];
    size_t got;
    int rc = 0;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.size + got > (size_t)4 << 20) {
            rc = dc__last_set(DC_ETOOBIG,
                              "calendar '%s': larger than 4 MiB; not a holiday "
                              "calendar",
                              path);
            break;
        }
        if ((rc = dc__buf_put(&b, chunk, got)) != 0) {
            rc = dc__last_set(DC_ENOMEM, "calendar '%s': out of memory", path);
            break;
        }
    }
    if (rc == 0 && ferror(f))
        rc = dc__last_set(DC_EIO, "calendar '%s': read error", path);
    fclose(f);
    if (rc == 0) {
        rc = dc_calendar_parse(out, b.ptr, b.size);
        if (rc) {
            /* "calendar: line 3: ..." becomes "calendar 'FILE': line 3: ...". */
            char why[512];
            const char *m = dc_error_last();
            snprintf(why, sizeof why, "%s", strncmp(m, "calendar", 8) == 0 ? m + 8 : m);
            rc = dc__last_set(rc, "calendar '%s'%s", path, why);
        }
    }
    dc_buf_dispose(&b);
    return rc;
}

int dc_calendar_is_workday(const dc_calendar *c, int year, int month, int day) {
    if (!valid_date(year, month, day))
        return 0;
    return workday(c, days_from_civil(year, month, day)) ? 1 : 0;
}

int64_t dc_calendar_end_of_workdays(const dc_calendar *c, int64_t from_ms, int n) {
    if (n < 1 || n > MAX_WORKDAYS)
        return -1;
    int64_t day = floor_div(from_ms + CST_MS, DAY_MS);
    for (int k = 0; k < n;) {
        day++;
        if (workday(c, day))
            k++;
    }
    return (day + 1) * DAY_MS - CST_MS;
}

int dc_calendar_years(const dc_calendar *c, int *first, int *last) {
    if (!c)
        return dc__last_set(DC_EMISUSE, "dc_calendar_years: the calendar is NULL");
    if (c->n == 0)
        return DC_ENOTFOUND;
    if (first)
        *first = year_of(c->days[0].day);
    if (last)
        *last = year_of(c->days[c->n - 1].day);
    return 0;
}

int dc_calendar_due(int64_t *due, int *estimated, const dc_calendar *c, int64_t from_ms, int n) {
    if (!due)
        return dc__last_set(DC_EMISUSE, "dc_calendar_due: due is NULL");
    if (n < 1 || n > MAX_WORKDAYS)
        return dc__last_set(DC_EINVAL, "calendar: %d working days is not from 1 to %d", n,
                            MAX_WORKDAYS);
    int64_t day = floor_div(from_ms + CST_MS, DAY_MS);
    int lo = 0, hi = -1;
    if (c && c->n) {
        lo = year_of(c->days[0].day);
        hi = year_of(c->days[c->n - 1].day);
    }
    bool out = false;
    for (int k = 0; k < n;) {
        day++;
        if (c && !out) {
            /* A day of a year the calendar does not cover: its holidays are
             * not known, so the count is only an estimate from here on. */
            int y = year_of((int32_t)day);
            out = y < lo || y > hi;
        }
        if (workday(c, day))
            k++;
    }
    *due = (day + 1) * DAY_MS - CST_MS;
    if (estimated)
        *estimated = out ? 1 : 0;
    return 0;
}

int dc_time_cst(dc_buf *out, int64_t ms) {
    if (!out)
        return dc__last_set(DC_EMISUSE, "dc_time_cst: out is NULL");
    int64_t local = ms + CST_MS;
    int64_t day = floor_div(local, DAY_MS), rem = local - day * DAY_MS;
    int64_t y;
    int m, d;
    civil_from_days(day, &y, &m, &d);
    int h = (int)(rem / 3600000), mi = (int)(rem / 60000 % 60), s = (int)(rem / 1000 % 60);
    int frac = (int)(rem % 1000);
    dc__buf_clear(out);
    int rc = frac ? dc__buf_printf(out, "%04lld-%02d-%02dT%02d:%02d:%02d.%03d+08:00", (long long)y,
                                   m, d, h, mi, s, frac)
                  : dc__buf_printf(out, "%04lld-%02d-%02dT%02d:%02d:%02d+08:00", (long long)y, m, d,
                                   h, mi, s);
    return rc ? dc__last_set(DC_ENOMEM, "dc_time_cst: out of memory") : 0;
}

static int digits(const char **p, int n, int *v) {
    *v = 0;
    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return -1;
        *v = *v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    return 0;
}

int dc_time_parse(int64_t *out, const char *text) {
    if (!out || !text)
        return dc__last_set(DC_EMISUSE, "dc_time_parse: out and text must not be NULL");
    const char *p = text;
    int y, mo, d, h, mi, s, ms = 0, oh = 0, om = 0, sign = 0;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
        digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' ') || !*p++ || digits(&p, 2, &h) ||
        *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' || digits(&p, 2, &s))
        goto bad;
    if (*p == '.') {
        int nd = 0;
        p++;
        while (*p >= '0' && *p <= '9') {
            if (nd < 3)
                ms = ms * 10 + (*p - '0');
            nd++;
            p++;
        }
        if (nd == 0)
            goto bad;
        for (; nd < 3; nd++)
            ms *= 10;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p++ == '-' ? -1 : 1;
        if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59)
            goto bad;
    } else {
        goto bad;
    }
    if (*p != '\0' || !valid_date(y, mo, d) || h > 23 || mi > 59 || s > 60)
        goto bad;
    if (s == 60)
        s = 59; /* a leap second is held at the last second of its minute */
    int64_t t =
        days_from_civil(y, mo, d) * DAY_MS + (int64_t)h * 3600000 + mi * 60000 + s * 1000 + ms;
    t -= (int64_t)sign * ((int64_t)oh * 3600000 + om * 60000);
    *out = t;
    return 0;
bad:
    return dc__last_set(DC_EINVAL,
                        "'%.64s' is not an RFC 3339 instant such as "
                        "2026-09-30T10:00:00+08:00",
                        text);
}

int dc_calendar_json(dc_buf *out, const dc_calendar *c) {
    if (!out || !c)
        return dc__last_set(DC_EMISUSE, "dc_calendar_json: out and calendar must not be NULL");
    dc_buf b = DC_BUF_INIT;
    size_t noff = 0, nwork = 0;
    int rc = dc__buf_puts(&b, "{\"years\":[");
    int last_year = -1;
    for (size_t i = 0; i < c->n && !rc; i++) {
        int y = year_of(c->days[i].day);
        if (y != last_year)
            rc = dc__buf_printf(&b, "%s%d", last_year < 0 ? "" : ",", y);
        last_year = y;
        if (c->days[i].kind == 'o')
            noff++;
        else
            nwork++;
    }
    if (!rc)
        rc = dc__buf_printf(&b, "],\"off\":%zu,\"work\":%zu,\"days\":[", noff, nwork);
    for (size_t i = 0; i < c->n && !rc; i++) {
        char d[11];
        format_date(d, c->days[i].day);
        rc = dc__buf_printf(&b, "%s{\"date\":\"%s\",\"kind\":\"%s\",\"name\":", i ? "," : "", d,
                            c->days[i].kind == 'o' ? "off" : "work") ||
             dc__json_str(&b, c->days[i].name, strlen(c->days[i].name)) || dc__buf_putc(&b, '}');
    }
    if (!rc)
        rc = dc__buf_puts(&b, "]}");
    if (rc) {
        dc_buf_dispose(&b);
        return dc__last_set(DC_ENOMEM, "dc_calendar_json: out of memory");
    }
    dc__buf_move(out, &b);
    return 0;
}

/* ---- calendars in a space ---- */

typedef struct from_ctx {
    dc_replica *r;
    dc_calendar *c;
} from_ctx;

static int from_record(void *user, const dc_record *rec) {
    from_ctx *x = user;
    int32_t day;
    if (!parse_date(dc_record_id(rec), strlen(dc_record_id(rec)), &day))
        return dc__model_fail(x->r, DC_ECORRUPT,
                              "calendar: holiday record '%.40s' is not "
                              "named by a date YYYY-MM-DD",
                              dc_record_id(rec));
    const dc_value *k = dc_record_value(rec, "kind"), *nm = dc_record_value(rec, "name");
    char kind = 0;
    if (k && k->kind == DC_STR && k->len == 3 && memcmp(dc__vstr(k), "off", 3) == 0)
        kind = 'o';
    else if (k && k->kind == DC_STR && k->len == 4 && memcmp(dc__vstr(k), "work", 4) == 0)
        kind = 'w';
    if (!kind)
        return dc__model_fail(x->r, DC_ECORRUPT,
                              "calendar: holiday record %s has no kind "
                              "'off' or 'work'",
                              dc_record_id(rec));
    bool has_name = nm && nm->kind == DC_STR;
    if (add_day(x->c, day, kind, has_name ? dc__vstr(nm) : NULL, has_name ? nm->len : 0))
        return dc__model_fail(x->r, DC_ENOMEM, "calendar: out of memory");
    return 0;
}

int dc_calendar_from_space(dc_calendar **out, dc_replica *r, const char *space) {
    if (!out)
        return dc__last_set(DC_EMISUSE, "dc_calendar_from_space: out is NULL");
    *out = NULL;
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_calendar_from_space: the replica handle is NULL");
    from_ctx x = {r, dc__calloc(1, sizeof(dc_calendar))};
    if (!x.c)
        return dc__model_fail(r, DC_ENOMEM, "calendar: out of memory");
    int rc = dc__dom_each(r, space, "holiday", NULL, from_record, &x);
    if (rc == 0 && x.c->n == 0)
        rc = dc__model_fail(r, DC_ENOTFOUND,
                            "calendar: space %s holds no holiday records "
                            "(publish one with `drivercore calendar publish`)",
                            space);
    if (rc) {
        dc_calendar_free(x.c);
        return rc;
    }
    sort_days(x.c); /* record ids are distinct dates: no duplicates */
    *out = x.c;
    return 0;
}

/* The holiday records a space already holds, to publish only what changed. */
typedef struct have_ctx {
    dc_replica *r;
    dc_calendar *have;
} have_ctx;

static int have_record(void *user, const dc_record *rec) {
    have_ctx *x = user;
    int32_t day;
    /* A record that is not a date is kept as it is: publishing never
     * touches what it does not understand. */
    if (!parse_date(dc_record_id(rec), strlen(dc_record_id(rec)), &day))
        return 0;
    const dc_value *k = dc_record_value(rec, "kind"), *nm = dc_record_value(rec, "name");
    char kind = '?';
    if (k && k->kind == DC_STR && k->len == 3 && memcmp(dc__vstr(k), "off", 3) == 0)
        kind = 'o';
    else if (k && k->kind == DC_STR && k->len == 4 && memcmp(dc__vstr(k), "work", 4) == 0)
        kind = 'w';
    bool has_name = nm && nm->kind == DC_STR;
    if (add_day(x->have, day, kind, has_name ? dc__vstr(nm) : NULL, has_name ? nm->len : 0))
        return dc__model_fail(x->r, DC_ENOMEM, "calendar: out of memory");
    return 0;
}

static bool covers_year(const dc_calendar *c, int year) {
    for (size_t i = 0; i < c->n; i++)
        if (year_of(c->days[i].day) == year)
            return true;
    return false;
}

int dc_calendar_publish(dc_replica *r, const char *space, const dc_calendar *c) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_calendar_publish: the replica handle is NULL");
    if (!c || !space)
        return dc__model_fail(r, DC_EMISUSE,
                              "dc_calendar_publish: space and calendar must "
                              "not be NULL");
    have_ctx x = {r, dc__calloc(1, sizeof(dc_calendar))};
    if (!x.have)
        return dc__model_fail(r, DC_ENOMEM, "calendar: out of memory");
    int rc = dc__dom_each(r, space, "holiday", NULL, have_record, &x);
    if (rc == 0)
        sort_days(x.have);
    dc_txn *t = NULL;
    if (rc == 0)
        rc = dc_txn_begin(&t, r, space);
    for (size_t i = 0; i < c->n && rc == 0; i++) {
        const cal_day *e = &c->days[i], *h = find_day(x.have, e->day);
        if (h && h->kind == e->kind && strcmp(h->name, e->name) == 0)
            continue;
        char d[11];
        format_date(d, e->day);
        rc = dc_txn_set(t, "holiday", d, "kind", DC_STR, 0, e->kind == 'o' ? "off" : "work");
        if (!rc)
            rc = dc_txn_set(t, "holiday", d, "name", DC_STR, 0, e->name);
        if (!rc)
            rc = dc_txn_set(t, "holiday", d, "year", DC_INT, year_of(e->day), NULL);
    }
    for (size_t i = 0; i < x.have->n && rc == 0; i++) {
        const cal_day *h = &x.have->days[i];
        if (!find_day(c, h->day) && covers_year(c, year_of(h->day))) {
            char d[11];
            format_date(d, h->day);
            rc = dc_txn_delete(t, "holiday", d);
        }
    }
    if (rc == 0)
        rc = dc_txn_commit(t, NULL);
    else
        dc_txn_rollback(t);
    dc_calendar_free(x.have);
    return rc;
}
