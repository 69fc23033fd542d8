/*
 * What WorkManager runs.  On Android, a CoroutineWorker/Worker with a
 * network constraint wraps this (it is not compiled here: no Android SDK):
 *
 *   class SyncWorker(ctx: Context, p: WorkerParameters) : Worker(ctx, p) {
 *       override fun doWork() = if (SyncJob(App.model(ctx)).run()) Result.success()
 *                               else Result.retry()
 *       override fun onStopped() = App.model(applicationContext).cancelSync()
 *   }
 *   // enqueued as unique periodic work, plus a one-time request when the
 *   // driver taps "send now" or writes something:
 *   Constraints.Builder().setRequiredNetworkType(NetworkType.CONNECTED).build()
 *
 * WorkManager runs it when a link comes back, which is "sync when the
 * network returns" without the app watching connectivity itself.
 */
package org.drivercore.example.driver;

public final class SyncJob {
    private final DriverAppModel model;

    public SyncJob(DriverAppModel model) {
        this.model = model;
    }

    /**
     * One sync; on the first one after enrolment, also accepts the
     * invitations that came down and syncs again to read those spaces.
     * true: done (Result.success); false: no link (Result.retry).
     */
    public boolean run() {
        if (!model.syncNow()) {
            return false;
        }
        DriverAppModel.Config c = model.config();
        int wanted = (c.branchSpace != null ? 1 : 0) + (c.grievanceSpace != null ? 1 : 0)
                + (c.directorySpace != null ? 1 : 0);
        if (model.acceptInvitations() > 0 && wanted > 0) {
            return model.syncNow();
        }
        return true;
    }
}
