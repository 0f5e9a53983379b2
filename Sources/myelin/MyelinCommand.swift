import ArgumentParser
import Foundation
import Myelin

@main
struct MyelinCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "myelin",
        abstract: "Myelin: deep learning in Swift.",
        version: MyelinLibrary.version,
        subcommands: [Demo.self, Bench.self],
        defaultSubcommand: Demo.self
    )
}
