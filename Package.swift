// swift-tools-version:5.9
//
// The Swift bindings of drivercore: a system-library target (CDrivercore)
// that exposes the C API through a module map over <drivercore.h>, and the
// Swift target Drivercore that wraps it idiomatically (classes that close
// their handles in deinit, errors thrown as DCError).  No package
// dependencies: nothing can be fetched in the build environments we target.
//
// The C library is found like any system library: installed, or pointed to
// with -Xcc -I<repo>/include -Xlinker -L<builddir>/libdrivercore (see
// docs/building.md and bindings/swift/run_swift_test.py).
import PackageDescription

let package = Package(
    name: "Drivercore",
    products: [
        .library(name: "Drivercore", targets: ["Drivercore"]),
    ],
    targets: [
        .systemLibrary(name: "CDrivercore", path: "Sources/CDrivercore"),
        .target(name: "Drivercore", dependencies: ["CDrivercore"]),
        .testTarget(name: "DrivercoreTests", dependencies: ["Drivercore"]),
    ]
)
