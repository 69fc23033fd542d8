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

    /// This installation's id, for `Replica(path:installId:)`: read from
    /// the file `install-id` in `directory` (excluded from backups, created
    /// if missing), made (a random UUID) when missing.  A restored backup
    /// does not bring it back, so the replica it restored is marked cloned
    /// before it can write (docs/recovery.md).  On iOS a
    /// `kSecAttrAccessible...ThisDeviceOnly` Keychain item is the stronger
    /// home (it survives reinstalls, never migrates); this file is the
    /// simple one, and the one that works on every platform.
    public static func installId(in directory: URL) throws -> String {
        let file = try excludeFromBackup(directory).appendingPathComponent("install-id")
        if let data = FileManager.default.contents(atPath: file.path),
           let id = String(data: data, encoding: .utf8)?
               .trimmingCharacters(in: .whitespacesAndNewlines),
           !id.isEmpty {
            return id
        }
        let id = UUID().uuidString.lowercased()
        try Data(id.utf8).write(to: file, options: .atomic)
        return id
    }
}
