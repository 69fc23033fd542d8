package org.drivercore;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.util.UUID;

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

    /** The file, under the replica folder, that holds the installation id. */
    public static final String INSTALL_ID_FILE = "install-id";

    /**
     * This installation's id, for {@link Replica#open(String, String,
     * boolean, KeyProvider, String)}: read from
     * {@code noBackupFilesDir/drivercore/install-id}, made (a random UUID)
     * when missing. Auto Backup never copies that directory, so an app
     * restored from a backup gets a new id, and the replica it restored is
     * marked cloned before it can write (docs/recovery.md).
     *
     * @throws DriverCoreException EMISUSE for null, EIO if it cannot be read or written
     */
    public static String installId(File noBackupFilesDir) {
        File f = new File(replicaDir(noBackupFilesDir), INSTALL_ID_FILE);
        try {
            if (f.isFile()) {
                String id = new String(Files.readAllBytes(f.toPath()), StandardCharsets.UTF_8).trim();
                if (!id.isEmpty()) {
                    return id;
                }
            }
            String id = UUID.randomUUID().toString();
            File tmp = new File(f.getPath() + ".tmp");
            Files.write(tmp.toPath(), id.getBytes(StandardCharsets.UTF_8),
                    StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                    StandardOpenOption.SYNC);
            if (!tmp.renameTo(f)) {
                throw new IOException("cannot rename " + tmp + " to " + f);
            }
            return id;
        } catch (IOException e) {
            throw new DriverCoreException(DriverCoreError.EIO,
                    "Backup.installId: " + f + ": " + e.getMessage());
        }
    }
}
