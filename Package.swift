// swift-tools-version:5.9
//
// drivercore as a Swift package: an app adds it by URL (File > Add Package
// Dependencies, or .package(url: "<this repository>", from: "0.1.0")) and
// imports Drivercore.  Two targets: CDrivercore, the C library, and
// Drivercore, the Swift API over it (bindings/swift/Sources/Drivercore).
// No package dependencies: nothing is fetched.
//
// Where CDrivercore comes from (docs/building.md, "Swift"):
//   - Linux: compiled here from libdrivercore/, linking the system's
//     SQLite, libsodium, zstd and msgpack-c (Debian: libsqlite3-dev
//     libsodium-dev libzstd-dev libmsgpack-dev).  A plain `swift build` /
//     `swift test` at the root works; ./dev test runs the tests.
//   - Apple platforms: iOS has no system libsodium, zstd or msgpack-c, so
//     CDrivercore is the XCFramework tools/build-xcframework makes (device
//     and simulator slices, every dependency linked in).  A release
//     publishes it and replaces `path:` below with its url and checksum.
import PackageDescription

#if os(Linux)
let core: Target = .target(
    name: "CDrivercore",
    path: ".",
    // The library's folders; libdrivercore/curl is libdrivercore-curl, not
    // part of the core (it needs libcurl; apps bring their own HTTP).
    exclude: ["libdrivercore/curl", "libdrivercore/README.md", "libdrivercore/meson.build",
              "libdrivercore/layer_tree.py"],
    sources: ["libdrivercore"],
    publicHeadersPath: "include",
    cSettings: [
        .define("DC_BUILDING"),
        .define("_POSIX_C_SOURCE", to: "200809L"),
        .define("_DEFAULT_SOURCE"),
        .headerSearchPath("libdrivercore"),
    ],
    linkerSettings: [
        .linkedLibrary("sqlite3"), .linkedLibrary("sodium"), .linkedLibrary("zstd"),
        .linkedLibrary("msgpackc"), .linkedLibrary("pthread"),
    ])
#else
let core: Target = .binaryTarget(name: "CDrivercore", path: "build-xcframework/CDrivercore.xcframework")
#endif

let package = Package(
    name: "Drivercore",
    products: [
        .library(name: "Drivercore", targets: ["Drivercore"]),
    ],
    targets: [
        core,
        .target(name: "Drivercore", dependencies: ["CDrivercore"],
                path: "bindings/swift/Sources/Drivercore"),
        .testTarget(name: "DrivercoreTests", dependencies: ["Drivercore"],
                    path: "bindings/swift/Tests/DrivercoreTests"),
        // examples/ios-driver: the model layer of a driver's app, with its
        // end-to-end test.  Not a product: an app depending on this package
        // never builds it.
        .target(name: "DriverAppModel", dependencies: ["Drivercore"],
                path: "examples/ios-driver/Sources/DriverAppModel"),
        .testTarget(name: "DriverAppModelTests", dependencies: ["DriverAppModel"],
                    path: "examples/ios-driver/Tests/DriverAppModelTests"),
    ]
)
