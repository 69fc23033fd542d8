package org.drivercore;

import java.io.File;

/**
 * Keeping the replica out of phone backups (docs/recovery.md). A replica
 * restored from a backup carries the device identity of the phone it was
 * copied from; its writes then collide with the original's. Put the replica
 * where Android Auto Backup never copies it, and, for an app that also
 * declares backup rules, exclude the folder there too.
 */
public final class Backup {
    private Backup() {}

    /** The folder, under the app's no-backup directory, for replica files. */
    public static final String REPLICA_DIR = "drivercore";

    /**
     * The rule lines for {@code res/xml/backup_rules.xml} (Android 11 and
     * older) and the {@code <cloud-backup>} and {@code <device-transfer>}
     * sections of {@code res/xml/data_extraction_rules.xml} (Android 12+),
     * for a replica kept in {@code getFilesDir()/drivercore/} instead.
     */
    public static final String EXCLUDE_RULES =
            "<exclude domain=\"file\" path=\"" + REPLICA_DIR + "/\"/>";

    /**
     * The folder to keep replica files in: {@code noBackupFilesDir} is
     * {@code Context.getNoBackupFilesDir()}, which Auto Backup never copies.
     * The folder is created if missing.
     *
     * @throws DriverCoreException EMISUSE for null, EIO if it cannot be made
     */
    public static File replicaDir(File noBackupFilesDir) {
        if (noBackupFilesDir == null) {
            throw new DriverCoreException(DriverCoreError.EMISUSE,
                    "Backup.replicaDir: noBackupFilesDir is null");
        }
        File dir = new File(noBackupFilesDir, REPLICA_DIR);
        if (!dir.isDirectory() && !dir.mkdirs()) {
            throw new DriverCoreException(DriverCoreError.EIO,
                    "Backup.replicaDir: cannot create " + dir);
        }
        return dir;
    }
}
