/*
 * The model layer of a truck driver's app on Android, over the Java bindings
 * (org.drivercore): what the screens show and what the buttons do, with no
 * Android class in it, so it compiles and is tested on any JVM.  A real app
 * wraps it in an androidx ViewModel and turns the listeners into LiveData or
 * a Kotlin Flow (README.md).
 *
 * Everything a driver does works offline and is written to his phone at
 * once: filing a grievance (and seeing its deadlines), checking in at a
 * Driver's Home, reading a study item.  syncNow() sends it when a link is
 * there; WorkManager calls it (README.md, "Where sync runs"), so the UI
 * never waits on the network.
 *
 * Threads: the UI's replica and the sync's are two handles on the same
 * file (the library's advice, SyncClient.java): a sync can take minutes on
 * a weak link and never blocks a screen.  After each sync the UI handle is
 * refreshed, so live queries fire with what arrived.
 */
package org.drivercore.example.driver;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

import org.drivercore.Branches;
import org.drivercore.CaseInfo;
import org.drivercore.Cases;
import org.drivercore.Checkins;
import org.drivercore.DriverCoreError;
import org.drivercore.DriverCoreException;
import org.drivercore.HttpTransport;
import org.drivercore.LiveQuery;
import org.drivercore.Query;
import org.drivercore.Record;
import org.drivercore.Replica;
import org.drivercore.Study;
import org.drivercore.SyncClient;
import org.drivercore.SyncStatus;

public final class DriverAppModel implements AutoCloseable {
    /** Who the driver is and where his data lives (from enrolment). */
    public static final class Config {
        /** His registry id, "drv-...". */
        public String driverId;
        /** His own space (check-ins); created on first start when null. */
        public String personalSpace;
        /** His branch's space: study items; his receipts go there. */
        public String branchSpace;
        /** The space his grievances are filed into (the county desk's). */
        public String grievanceSpace;
        /** The directory space with the Driver's Homes, or null. */
        public String directorySpace;
        /** The relay, "https://host:port". */
        public String relayUrl;
    }

    private final Config config;
    private final Replica ui;
    private final Replica syncSide;
    private final SyncClient client;
    private final List<Consumer<SyncStatus>> statusListeners = new CopyOnWriteArrayList<>();

    private DriverAppModel(Config config, Replica ui, Replica syncSide, SyncClient client) {
        this.config = config;
        this.ui = ui;
        this.syncSide = syncSide;
        this.client = client;
    }

    /**
     * Opens (or creates) the replica at path (on Android:
     * context.getNoBackupFilesDir(), so a phone backup never clones it) and
     * the sync client over transport (null: HttpURLConnection).
     */
    public static DriverAppModel open(String path, Config config, HttpTransport transport) {
        Replica ui = Replica.open(path, "driver phone", false);
        Replica syncSide = null;
        try {
            if (config.personalSpace == null) {
                config.personalSpace = ui.createSpace("driver " + config.driverId).id();
            }
            syncSide = Replica.open(path, null, true);
            SyncClient client = SyncClient.open(syncSide, config.relayUrl, transport).refreshing(ui);
            DriverAppModel m = new DriverAppModel(config, ui, syncSide, client);
            client.onStatus(m::publish);
            return m;
        } catch (RuntimeException e) {
            if (syncSide != null) {
                syncSide.close();
            }
            ui.close();
            throw e;
        }
    }

    /** The card an admin adds to his spaces (shown as a QR code at enrolment). */
    public String card() {
        return ui.card();
    }

    public Config config() {
        return config;
    }

    // ---- grievances ----

    /** Files a grievance, offline too; it syncs later.  Returns it with its deadlines. */
    public CaseInfo fileGrievance(String category, String text, long amountYuan) {
        Cases.Filing f = new Cases.Filing();
        f.driver = config.driverId;
        f.channel = "app";
        f.category = category;
        f.text = text;
        f.amount = amountYuan;
        return Cases.fileInfo(ui, null, config.grievanceSpace, f);
    }

    /** His grievances, the open ones with the nearest deadline first. */
    public List<CaseInfo> myGrievances() {
        return grievances(ui.query(config.grievanceSpace, "case", mine()).records());
    }

    /**
     * Calls listener with his grievances now and whenever they change: his
     * own filing, or a handler's step arriving by sync.  Runs on the thread
     * that made the change: post it to the main thread from there.
     */
    public LiveQuery observeGrievances(Consumer<List<CaseInfo>> listener) {
        // With events: a handler's step is an event of the case record, so a
        // query without them would not change when one arrives.
        return ui.observe(config.grievanceSpace, "case", mine().withEvents(true),
                page -> listener.accept(grievances(page.records())));
    }

    private Query mine() {
        return new Query().where("driver", config.driverId).withEvents(false);
    }

    private List<CaseInfo> grievances(List<Record> records) {
        List<CaseInfo> out = new ArrayList<>();
        for (Record r : records) {
            CaseInfo c = Cases.get(ui, null, config.grievanceSpace, r.id());
            if (c != null) {
                out.add(c);
            }
        }
        out.sort((a, b) -> {
            if (a.open != b.open) {
                return a.open ? -1 : 1;
            }
            long x = a.nextDueMs() < 0 ? Long.MAX_VALUE : a.nextDueMs();
            long y = b.nextDueMs() < 0 ? Long.MAX_VALUE : b.nextDueMs();
            return x != y ? Long.compare(x, y) : a.id.compareTo(b.id);
        });
        return Collections.unmodifiableList(out);
    }

    /** The line under a grievance: its status and the next deadline in words. */
    public static String deadlineLine(CaseInfo c, long nowMs) {
        long due = c.nextDueMs();
        if (!c.open || due < 0) {
            return c.status;
        }
        String which = "";
        for (int k = 0; k < 4; k++) {
            if (c.dueMs[k] == due && c.doneMs[k] < 0) {
                which = CaseInfo.DEADLINES[k];
                break;
            }
        }
        long left = due - nowMs;
        String when = left < 0 ? "overdue by " + hours(-left) : "due in " + hours(left);
        return c.status + ": " + which + " " + when;
    }

    private static String hours(long ms) {
        long h = ms / 3_600_000;
        return h >= 48 ? (h / 24) + " days" : h >= 1 ? h + " h" : (ms / 60_000) + " min";
    }

    // ---- Driver's Homes ----

    /** Records a visit (rating 1..5, 0 none), offline too. */
    public void checkIn(String station, String used, String feedback, int rating) {
        Checkins.checkIn(ui, config.personalSpace, station, 0, used, feedback, rating);
    }

    public List<Checkins.Visit> myVisits() {
        return Checkins.visits(ui, config.personalSpace);
    }

    /** The Driver's Homes (offering facility, when not null); empty without a directory. */
    public List<Checkins.Station> stations(String facility) {
        if (config.directorySpace == null) {
            return Collections.emptyList();
        }
        return Checkins.stations(ui, config.directorySpace, facility);
    }

    // ---- study ----

    public List<Study.Item> studyItems() {
        return Study.items(ui, config.branchSpace);
    }

    /** Opens an item to read: writes his read receipt (offline too) and returns it. */
    public Study.Item openStudyItem(String id) {
        Study.markRead(ui, config.branchSpace, id, config.driverId, false);
        return Study.item(ui, config.branchSpace, id);
    }

    /** He finished the item (watched the video to the end, ...). */
    public void finishStudyItem(String id) {
        Study.markRead(ui, config.branchSpace, id, config.driverId, true);
    }

    public Study.State studyState(Study.Item item) {
        return item.stateOf(config.driverId);
    }

    public void comment(String id, String text) {
        Study.discuss(ui, config.branchSpace, id, config.driverId, text);
    }

    // ---- his branch ----

    /** His branch (name, the four principles), or null before its space has arrived. */
    public Branches.Branch myBranch() {
        List<Branches.Branch> b = Branches.branches(ui, config.branchSpace);
        return b.isEmpty() ? null : b.get(0);
    }

    /** The branch's theme activities, by date. */
    public List<Branches.Activity> activities() {
        return Branches.activities(ui, config.branchSpace);
    }

    /** He takes part in an activity (offline too). */
    public void joinActivity(String id) {
        Branches.join(ui, config.branchSpace, id, config.driverId);
    }

    // ---- sync ----

    /**
     * Accepts the spaces his branch secretary and the county desk invited
     * this phone to, once their invitations have arrived by sync.  Returns
     * how many are now open; one not arrived yet is left for later.
     */
    public int acceptInvitations() {
        int open = 0;
        for (String s : new String[] {config.branchSpace, config.grievanceSpace,
            config.directorySpace}) {
            if (s == null) {
                continue;
            }
            try {
                ui.space(s).accept(s.equals(config.directorySpace));
                open++;
            } catch (DriverCoreException e) {
                if (e.error() != DriverCoreError.ENOTFOUND) {
                    throw e;
                }
            }
        }
        return open;
    }

    /**
     * One sync with the relay: what he wrote offline goes up, what others
     * wrote comes down, and the screens refresh.  Run it off the main thread
     * (WorkManager's worker).  Returns false when the link is down or the
     * relay unreachable (the status says why, in words); other failures
     * throw.
     */
    public boolean syncNow() {
        try {
            client.syncNow();
            return true;
        } catch (DriverCoreException e) {
            if (e.error() == DriverCoreError.EIO || e.error() == DriverCoreError.EUSER) {
                return false;
            }
            throw e;
        }
    }

    /** Stops a sync in flight (the worker was stopped); any thread. */
    public void cancelSync() {
        client.cancel();
    }

    public SyncStatus syncStatus() {
        return ui.syncStatus();
    }

    /** Called after every sync attempt, on the syncing thread. */
    public void onSyncStatus(Consumer<SyncStatus> listener) {
        statusListeners.add(listener);
    }

    private void publish(SyncStatus s) {
        for (Consumer<SyncStatus> l : statusListeners) {
            l.accept(s);
        }
    }

    /** The status bar's line: synced or not, what waits to go, why not. */
    public static String statusLine(SyncStatus s) {
        String waiting = s.unacked == 0 ? "everything sent"
                : s.unacked + (s.unacked == 1 ? " change" : " changes") + " waiting to be sent";
        if (!s.hasLastSync) {
            return "Not synced yet; " + waiting;
        }
        if (s.ok) {
            return "Synced; " + waiting;
        }
        return "Offline (" + s.reason + "); " + waiting + ". " + s.error;
    }

    @Override
    public void close() {
        client.close();
        syncSide.close();
        ui.close();
    }
}
