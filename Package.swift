// swift-tools-version:6.0
import PackageDescription

// Myelin: a deep-learning framework in Swift. Modules follow shared/DESIGN.md;
// arrows point downwards only (a lower module never imports a higher one):
//   MyelinCore ← MyelinNN ← MyelinModels; MyelinNN ← MyelinOptim ← MyelinData/MyelinIO;
//   all of them ← MyelinTrain (training loops for zoo models such as CharLM) ← Myelin ← myelin
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
        .target(name: "CMyelinKernels", cSettings: [.define("NDEBUG")]),
        // The system zlib (gzip'd IDX files, PNG output).
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // The reference image codecs, for reading and writing PNG and JPEG files.
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg62-turbo-dev"])]),

        // Tensor, storage, kernels, BLAS loading, threads, random numbers, autograd.
        .target(name: "MyelinCore", dependencies: [
            "CMyelinKernels", .product(name: "RealModule", package: "swift-numerics"),
        ]),
        // Module, Parameter, layers, activations, losses, initialisers.
        .target(name: "MyelinNN", dependencies: ["MyelinCore"]),
        // Optimizers, learning-rate schedules, gradient clipping.
        .target(name: "MyelinOptim", dependencies: ["MyelinCore", "MyelinNN"]),
        // Datasets, DataLoader, transforms, file formats (IDX, CSV, ...).
        .target(name: "MyelinData", dependencies: ["MyelinCore", "CZlib", "CPNG", "CJPEG"]),
        // safetensors, checkpoints, plots.
        .target(name: "MyelinIO", dependencies: ["MyelinCore", "MyelinNN", "MyelinOptim", "CZlib"]),
        // fit loop, callbacks, metrics, progress display.
        .target(name: "MyelinTrain", dependencies: ["MyelinCore", "MyelinNN", "MyelinOptim", "MyelinData", "MyelinIO", "MyelinModels"]),
        // The model zoo.
        .target(name: "MyelinModels", dependencies: ["MyelinCore", "MyelinNN", "MyelinIO"]),
        // Umbrella: `import Myelin`.
        .target(name: "Myelin", dependencies: [
            "MyelinCore", "MyelinNN", "MyelinOptim", "MyelinData", "MyelinIO", "MyelinTrain", "MyelinModels",
        ]),
        .executableTarget(
            name: "myelin",
            dependencies: ["Myelin", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            exclude: ["Resources/README.md"],
            resources: [.copy("Resources/digits.csv")]
        ),
        .testTarget(name: "MyelinCoreTests", dependencies: ["Myelin"], exclude: ["Fixtures"]),
        .testTarget(name: "MyelinNNTests", dependencies: ["Myelin"], exclude: ["Fixtures"]),
        .testTarget(name: "MyelinOptimTests", dependencies: ["Myelin"], exclude: ["Fixtures"]),
        .testTarget(name: "MyelinDataTests", dependencies: ["Myelin"], exclude: ["Fixtures"]),
        .testTarget(name: "MyelinIOTests", dependencies: ["Myelin"], exclude: ["Fixtures"]),
        .testTarget(name: "MyelinTrainTests", dependencies: ["Myelin"], exclude: ["Fixtures"]),
    ]
)
