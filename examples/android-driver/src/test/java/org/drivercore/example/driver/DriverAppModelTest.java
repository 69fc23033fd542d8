/*
 * The driver's app model end to end, as the driver would see it: enrolled
 * through a real drivercore-relay on loopback (started and stopped here),
 * then the link drops; he files a grievance, checks in and reads a study
 * item offline, and the status bar says what waits; the link comes back,
 * the sync job sends it all, the county desk and his branch see it, and a
 * handler's step comes back to his phone with the deadlines moved on.
 */
package org.drivercore.example.driver;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.io.IOException;
import java.net.ConnectException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.drivercore.Branches;
import org.drivercore.CaseInfo;
import org.drivercore.Cases;
import org.drivercore.Checkins;
import org.drivercore.DriverCoreError;
import org.drivercore.DriverCoreException;
import org.drivercore.HttpTransport;
import org.drivercore.LiveQuery;
import org.drivercore.Replica;
import org.drivercore.Role;
import org.drivercore.Space;
import org.drivercore.Study;
import org.drivercore.SyncClient;
import org.drivercore.SyncStatus;
import org.drivercore.Txn;
import org.drivercore.UrlConnectionTransport;
import org.junit.After;
import org.junit.Assume;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class DriverAppModelTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private Process relay;
    private String url;

    /** The phone's link: airplane mode when down, HttpURLConnection when up. */
    static final class Link implements HttpTransport {
        final AtomicBoolean up = new AtomicBoolean(true);
        private final UrlConnectionTransport net = new UrlConnectionTransport();

        @Override
        public Response execute(Request q) throws IOException {
            if (!up.get()) {
                throw new ConnectException("no network (airplane mode)");
            }
            return net.execute(q);
        }

        @Override
        public void cancel() {
            net.cancel();
        }
    }

    private String path(String name) {
        return new File(tmp.getRoot(), name).getPath();
    }

    @Before
    public void startRelay() throws Exception {
        String exe = System.getProperty("drivercore.relay", "");
        Assume.assumeTrue("drivercore-relay not built (-Drelay=false?)", !exe.isEmpty());
        File log = new File(tmp.getRoot(), "relay.log");
        relay = new ProcessBuilder(exe, "--store", path("relay.db"), "--listen", "127.0.0.1:0",
                "--quiet").redirectErrorStream(true).redirectOutput(log).start();
        for (int i = 0; i < 200 && url == null; i++) {
            Matcher m = Pattern.compile(" port ([0-9]+)")
                    .matcher(new String(Files.readAllBytes(log.toPath()), StandardCharsets.UTF_8));
            if (m.find()) {
                url = "http://127.0.0.1:" + m.group(1);
            } else {
                Thread.sleep(50);
            }
        }
        if (url == null) {
            fail("the relay did not start");
        }
    }

    @After
    public void stopRelay() throws Exception {
        if (relay != null) {
            relay.destroy();
            relay.waitFor();
        }
    }

    @Test
    public void offlineWorkSyncsWhenTheLinkComesBack() throws Exception {
        Link link = new Link();
        try (Replica desk = Replica.open(path("desk.db"));
             SyncClient deskSync = SyncClient.open(desk, url, null)) {
            // The county desk and the branch secretary (one tablet here) set
            // up the spaces and publish a Driver's Home and a study item.
            Space cases = desk.createSpace("county desk");
            Space branch = desk.createSpace("branch 11");
            Space dir = desk.createSpace("directory");
            try (Txn t = dir.begin()) {
                t.set("station", "dh-7", "name", "修文服务区司机之家")
                        .add("station", "dh-7", "facilities", "showers")
                        .add("station", "dh-7", "facilities", "meals");
                t.commit();
            }
            String item = Study.push(desk, branch.id(), null, "冬季安全行车", "article", "雪天慢行");
            try (Txn t = branch.begin()) {
                t.set("branch", "branch-11", "name", "货运十一支部")
                        .set("activity", "act-1", "title", "主题党日")
                        .set("activity", "act-1", "date", "2026-12-20");
                t.commit();
            }

            DriverAppModel.Config cfg = new DriverAppModel.Config();
            cfg.driverId = "drv-1001";
            cfg.branchSpace = branch.id();
            cfg.grievanceSpace = cases.id();
            cfg.directorySpace = dir.id();
            cfg.relayUrl = url;
            try (DriverAppModel app = DriverAppModel.open(path("phone.db"), cfg, link)) {
                assertNotNull(cfg.personalSpace);
                List<SyncStatus> seen = new ArrayList<>();
                app.onSyncStatus(seen::add);
                // Its own space, made on first start, waits to be sent.
                SyncStatus first = app.syncStatus();
                assertFalse(first.hasLastSync);
                assertEquals("Not synced yet; " + first.unacked + " changes waiting to be sent",
                        DriverAppModel.statusLine(first));

                // Enrolment: the desk adds his card; the first sync job
                // brings the invitations, accepts them and reads the spaces.
                for (Space s : new Space[] {cases, branch, dir}) {
                    s.add(app.card(), Role.MEMBER);
                }
                deskSync.syncNow();
                assertTrue(new SyncJob(app).run());
                assertEquals(1, app.studyItems().size());
                assertEquals(Study.State.UNREAD, app.studyState(app.studyItems().get(0)));
                assertEquals("dh-7", app.stations("showers").get(0).id);
                assertEquals("货运十一支部", app.myBranch().name);
                assertTrue(app.activities().get(0).joined.isEmpty());

                List<List<CaseInfo>> shown = new ArrayList<>();
                try (LiveQuery screen = app.observeGrievances(shown::add)) {
                    assertTrue(screen.isOpen());
                    assertEquals(1, shown.size());
                    assertTrue(shown.get(0).isEmpty());

                    // In a tunnel: no link.  Everything still works.
                    link.up.set(false);
                    CaseInfo c = app.fileGrievance("freight_arrears", "运费拖欠 4200 元", 4200);
                    assertEquals("received", c.status);
                    assertEquals(c.receivedMs + 2 * 3600_000L, c.nextDueMs());
                    assertEquals("received: transfer due in 2 h",
                            DriverAppModel.deadlineLine(c, c.receivedMs));
                    assertEquals(2, shown.size());
                    assertEquals(c.id, shown.get(1).get(0).id);
                    app.checkIn("dh-7", "showers", "热水很好", 5);
                    Study.Item read = app.openStudyItem(item);
                    assertEquals("雪天慢行", read.media);
                    assertEquals(Study.State.READ, app.studyState(read));
                    app.finishStudyItem(item);
                    app.joinActivity("act-1");

                    assertFalse(new SyncJob(app).run()); // WorkManager: Result.retry()
                    SyncStatus off = app.syncStatus();
                    assertFalse(off.ok);
                    assertEquals("unreachable", off.reason);
                    assertTrue(off.error, off.error.contains("airplane mode"));
                    assertTrue(off.unacked >= 4);
                    String line = DriverAppModel.statusLine(off);
                    assertTrue(line, line.startsWith("Offline (unreachable); " + off.unacked
                            + " changes waiting to be sent."));
                    assertFalse(seen.get(seen.size() - 1).ok);

                    // The link is back: WorkManager runs the job.
                    link.up.set(true);
                    assertTrue(new SyncJob(app).run());
                    SyncStatus on = app.syncStatus();
                    assertTrue(on.ok);
                    assertEquals(0, on.unacked);
                    assertEquals("Synced; everything sent", DriverAppModel.statusLine(on));
                    assertTrue(seen.get(seen.size() - 1).ok);

                    // The desk and the branch see what he wrote offline.
                    deskSync.syncNow();
                    CaseInfo atDesk = Cases.get(desk, null, cases.id(), c.id);
                    assertEquals("drv-1001", atDesk.driver);
                    assertEquals(4200, atDesk.amount);
                    assertEquals(Study.State.DONE,
                            Study.item(desk, branch.id(), item).stateOf("drv-1001"));
                    assertEquals(java.util.Arrays.asList("drv-1001"),
                            Branches.activities(desk, branch.id()).get(0).joined);
                    // His check-in stays in his own space: the desk cannot read it.
                    try {
                        Checkins.visits(desk, cfg.personalSpace);
                        fail("the desk read his whereabouts");
                    } catch (DriverCoreException e) {
                        assertEquals(DriverCoreError.ENOTFOUND, e.error());
                    }
                    assertEquals(1, app.myVisits().size());
                    assertEquals(5, app.myVisits().get(0).rating);

                    // The desk transfers it; his screen updates after the next sync.
                    Cases.step(desk, null, c.id, "transfer", "committee-520100", null, -1);
                    deskSync.syncNow();
                    int before = shown.size();
                    assertTrue(app.syncNow());
                    assertTrue(shown.size() > before);
                    CaseInfo now = shown.get(shown.size() - 1).get(0);
                    assertEquals("transferred", now.status);
                    assertTrue(now.doneMs[0] > 0);
                    assertEquals(now.dueMs[1], now.nextDueMs());
                    assertTrue(DriverAppModel.deadlineLine(now, now.receivedMs)
                            .startsWith("transferred: feedback due in "));
                    assertEquals(now.id, app.myGrievances().get(0).id);
                }
            }
        }
    }
}
