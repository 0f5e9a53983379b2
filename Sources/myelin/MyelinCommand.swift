import ArgumentParser
import CMyelinKernels
import Foundation
import Myelin

@main
struct MyelinCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "myelin",
        abstract: "Myelin: deep learning in Swift.",
        version: MyelinLibrary.version,
        subcommands: [Demo.self, Train.self, Evaluate.self, Predict.self, Summary.self, ImageCommand.self, VisualizeCommand.self, Forecast.self,
                      Generate.self, Word2VecCommand.self, Embed.self, Similarity.self, Search.self, Bench.self],
        defaultSubcommand: Demo.self
    )

    /// Every failure ends in ONE line on stderr and a non-zero exit: a bad flag or value
    /// ("error: ..." from the parser, without the usage block), an error thrown by a
    /// command (a missing file, a shape that does not fit), or a violated requirement in
    /// the library (which prints "…: Fatal error: <message>" itself, then traps: the
    /// signal handler below exits without the runtime's backtrace).
    static func main() {
        installTrapHandlers()
        // Progress lines must reach a log file or a pipe as they are printed, not when a
        // 4 KB buffer fills: a long run redirected to a file would look dead for minutes.
        myelin_line_buffer_stdout()
        // Help and version requests take ArgumentParser's own path, which renders them.
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.contains(where: { ["-h", "--help", "help", "--version"].contains($0) }) {
            main(arguments)
            return
        }
        var command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }  // --help, --version
            let message = MyelinCommand.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
            fail(message.hasPrefix("Error: ") ? String(message.dropFirst(7)) : message, hint: true, code: code.rawValue)
        }
        do {
            try command.run()
        } catch let error as CleanExit {
            exit(withError: error)
        } catch let error as ExitCode {
            Foundation.exit(error.rawValue)
        } catch let error as ValidationError {
            fail(error.message, hint: true, code: 64)
        } catch {
            fail(String(describing: error), hint: false, code: 1)
        }
    }

    static func fail(_ message: String, hint: Bool, code: Int32) -> Never {
        let oneLine = message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: "; ")
        let suffix = hint ? " (see 'myelin help')" : ""
        FileHandle.standardError.write(Data("error: \(oneLine)\(suffix)\n".utf8))
        Foundation.exit(code)
    }
}

/// A `require` failure prints its one-line message, then traps (SIGILL on x86-64, SIGTRAP
/// on arm64). Exiting here keeps the output to that line: no crash report or backtrace.
func installTrapHandlers() {
    for sig in [SIGILL, SIGTRAP] {
        signal(sig) { _ in _exit(1) }
    }
}
