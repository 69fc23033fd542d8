// What the XCTest cases of the Swift bindings share: a fresh directory per
// test for their replica files, and the check that a call throws a DCError
// with a given code and a message.

import Foundation
import XCTest

@testable import Drivercore

class ReplicaTestCase: XCTestCase {
    var dir: String = ""

    override func setUpWithError() throws {
        // A fresh directory per test, under the system temp directory.
        let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        dir = base + "/drivercore-swift-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    func path(_ name: String) -> String { dir + "/" + name }

    /// Runs `body`, which must throw a DCError with `code` and a message.
    func expect(
        _ code: DCError.Code, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void
    ) {
        do {
            try body()
            XCTFail("expected \(code.name)", file: file, line: line)
        } catch let e as DCError {
            XCTAssertEqual(e.code, code, "message: \(e.message)", file: file, line: line)
            XCTAssertFalse(e.message.isEmpty, file: file, line: line)
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
    }
}
