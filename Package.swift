// swift-tools-version:6.0
import PackageDescription

// Myelin: a deep-learning framework in Swift. Modules follow shared/DESIGN.md;
// arrows point downwards only (MyelinCore never imports a higher module).
let package = Package(
    name: "Myelin",
    products: [
        .library(name: "Myelin", targets: ["Myelin"]),
        .executable(name: "myelin", targets: ["myelin"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
    ],
    targets: [
        // ISA-specific micro-kernels (AVX2/AVX-512) chosen at run time by cpuid.
        // Swift has no per-function target attributes, so these few loops are C.
        .target(
            name: "CMyelinKernels",
            cSettings: [.define("NDEBUG")]
        ),
        .target(
            name: "MyelinCore",
            dependencies: [
                "CMyelinKernels",
                .product(name: "RealModule", package: "swift-numerics"),
            ]
        ),
        .target(name: "MyelinIO", dependencies: ["MyelinCore"]),
        .target(name: "Myelin", dependencies: ["MyelinCore", "MyelinIO"]),
        .executableTarget(
            name: "myelin",
            dependencies: [
                "Myelin",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "MyelinCoreTests", dependencies: ["Myelin"], exclude: ["Fixtures"]),
    ]
)
