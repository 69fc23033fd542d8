/*
 * The relay core's figures (docs/relay.md, "Metrics"): events the HTTP
 * layer notes, the counters as Prometheus text with the store's own after
 * them, the latency of sync requests; and the store's lock and quota for
 * the attachment endpoints (attach.c).
 */
#include <stdio.h>

#include "relay/core.h"

static const double lat_bounds[NLAT] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1,   0.25,   0.5,   1.0,  5.0};

static const char *const reason_names[R_NREASONS] = {"auth",   "rate", "size",        "malformed",
                                                     "denied", "busy", "connections", "deadline",
                                                     "memory", "quota"};

void dc__relay_count_latency(dc_relay *rl, double dt) {
    int k = 0;
    while (k < NLAT && dt > lat_bounds[k])
        k++;
    rl->lat[k]++;
    rl->lat_count++;
    rl->lat_sum += dt;
}

void dc_relay_note(dc_relay *rl, int event) {
    if (!rl)
        return;
    pthread_mutex_lock(&rl->mu);
    switch (event) {
    case DC_RELAY_EV_CONN_OPEN: rl->conns_open++, rl->conns_total++; break;
    case DC_RELAY_EV_CONN_CLOSE: rl->conns_open--; break;
    case DC_RELAY_EV_WAIT_BEGIN: rl->waiters++; break;
    case DC_RELAY_EV_WAIT_END: rl->waiters--; break;
    case DC_RELAY_EV_REFUSE_AUTH: rl->refusals[R_AUTH]++; break;
    case DC_RELAY_EV_REFUSE_SIZE: rl->refusals[R_SIZE]++; break;
    case DC_RELAY_EV_REFUSE_MALFORMED: rl->refusals[R_MALFORMED]++; break;
    case DC_RELAY_EV_REFUSE_BUSY: rl->refusals[R_BUSY]++; break;
    case DC_RELAY_EV_REFUSE_CONNECTIONS: rl->refusals[R_CONNECTIONS]++; break;
    case DC_RELAY_EV_REFUSE_DEADLINE: rl->refusals[R_DEADLINE]++; break;
    case DC_RELAY_EV_REFUSE_MEMORY: rl->refusals[R_MEMORY]++; break;
    case DC_RELAY_EV_REFUSE_QUOTA: rl->refusals[R_QUOTA]++; break;
    default: break;
    }
    pthread_mutex_unlock(&rl->mu);
}

int dc_relay_metrics(dc_buf *out, dc_relay *rl) {
    if (!out || !rl)
        return dc__last_set(DC_EMISUSE, "dc_relay_metrics: NULL argument");
    dc__buf_clear(out);
    int w = 0;
    pthread_mutex_lock(&rl->mu);
#define C(name, help, type, val)                                                                   \
    w |=                                                                                           \
        dc__buf_printf(out, "# HELP " name " " help "\n# TYPE " name " " type "\n" name " %llu\n", \
                       (unsigned long long)(val))
    C("drivercore_relay_connections", "HTTP connections open now.", "gauge",
      rl->conns_open < 0 ? 0 : rl->conns_open);
    C("drivercore_relay_connections_total", "HTTP connections accepted.", "counter",
      rl->conns_total);
    C("drivercore_relay_waiters", "Devices long-polling now.", "gauge",
      rl->waiters < 0 ? 0 : rl->waiters);
    C("drivercore_relay_auth_total", "Successful authentications.", "counter", rl->auth_ok);
    C("drivercore_relay_tokens", "Session tokens held.", "gauge", rl->toks.n);
    C("drivercore_relay_sync_sessions", "Sync sessions open.", "gauge", rl->sessions.n);
    C("drivercore_relay_sync_sessions_total", "Sync sessions begun.", "counter",
      rl->sessions_total);
    C("drivercore_relay_sync_requests_total", "Sync requests received.", "counter",
      rl->sync_requests);
    C("drivercore_relay_changes_in_total", "Changes received from devices and stored.", "counter",
      rl->changes_in);
    C("drivercore_relay_changes_out_total", "Changes sent to devices.", "counter", rl->changes_out);
    C("drivercore_relay_bytes_in_total", "Sync message bytes received.", "counter", rl->bytes_in);
    C("drivercore_relay_bytes_out_total", "Sync message bytes sent.", "counter", rl->bytes_out);
    C("drivercore_relay_generation", "Change notifications issued.", "counter", rl->gen);
    w |= dc__buf_puts(out, "# HELP drivercore_relay_refusals_total Requests refused, by "
                           "reason.\n# TYPE drivercore_relay_refusals_total counter\n");
    for (int i = 0; i < R_NREASONS; i++)
        w |= dc__buf_printf(out, "drivercore_relay_refusals_total{reason=\"%s\"} %llu\n",
                            reason_names[i], (unsigned long long)rl->refusals[i]);
    w |= dc__buf_puts(out, "# HELP drivercore_relay_sync_seconds Time to serve a sync request, "
                           "commit included.\n# TYPE drivercore_relay_sync_seconds histogram\n");
    uint64_t cum = 0;
    for (int i = 0; i < NLAT; i++) {
        cum += rl->lat[i];
        w |= dc__buf_printf(out, "drivercore_relay_sync_seconds_bucket{le=\"%g\"} %llu\n",
                            lat_bounds[i], (unsigned long long)cum);
    }
    w |= dc__buf_printf(out,
                        "drivercore_relay_sync_seconds_bucket{le=\"+Inf\"} %llu\n"
                        "drivercore_relay_sync_seconds_sum %.6f\n"
                        "drivercore_relay_sync_seconds_count %llu\n",
                        (unsigned long long)rl->lat_count, rl->lat_sum,
                        (unsigned long long)rl->lat_count);
    C("drivercore_relay_remote_notes_total",
      "Change notes received from other relay processes sharing the store.", "counter",
      rl->remote_notes);
#undef C
    pthread_mutex_unlock(&rl->mu);
    /* The store's own figures (group commits, connections), outside mu. */
    if (!w && rl->st->ops->metrics && rl->st->ops->metrics(rl->st, out) != 0)
        w = 1;
    return w ? dc__last_set(DC_ENOMEM, "relay: out of memory") : 0;
}

/* ---- the store, for the attachment endpoints (attach.c) ---- */

int64_t dc__relay_solo_quota(dc_relay *rl) {
    /* A store without the quota (a tablet's replica) applies none. */
    return rl->st->ops->set_solo_quota ? rl->o.solo_quota_bytes : -1;
}

dc__relay_store *dc__relay_store_lock(dc_relay *rl) {
    pthread_mutex_lock(&rl->store_mu);
    if (rl->st->ops->lock)
        rl->st->ops->lock(rl->st, true);
    return rl->st;
}

void dc__relay_store_unlock(dc_relay *rl) {
    if (rl->st->ops->lock)
        rl->st->ops->lock(rl->st, false);
    pthread_mutex_unlock(&rl->store_mu);
}
