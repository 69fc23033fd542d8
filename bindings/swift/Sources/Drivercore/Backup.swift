// Keeping the replica out of iCloud and computer backups (docs/recovery.md).
// A replica restored from a backup carries the device identity of the phone
// it was copied from, and its writes collide with the original's.  Keep the
// replica in a directory excluded from backups; SQLite's -wal and -shm files
// are created beside it, so the directory's flag covers them.
import Foundation

public enum Backup {
    /// Marks `directory` (created if missing) as excluded from backups and
    /// returns it.  On Apple platforms this sets
    /// `URLResourceValues.isExcludedFromBackup`; elsewhere (Linux, where
    /// there is no such backup) it only creates the directory.
    @discardableResult
    public static func excludeFromBackup(_ directory: URL) throws -> URL {
        try FileManager.default.createDirectory(at: directory,
                                                withIntermediateDirectories: true)
        #if canImport(Darwin)
        var values = URLResourceValues()
        values.isExcludedFromBackup = true
        var dir = directory
        try dir.setResourceValues(values)
        #endif
        return directory
    }
}
