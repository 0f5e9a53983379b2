import Foundation

/// Something wrong with a user's data: a file that is missing, truncated or
/// corrupt, a CSV cell that is not a number, a download that failed or does not
/// match its checksum. The description names the file, and the line and column
/// where they are known, then what is wrong and, where there is one, the fix.
public struct DataError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: String, Sendable {
        /// The file or folder does not exist or cannot be read.
        case notFound
        /// The file ends before the data its header announces.
        case truncated
        /// The bytes are not the format they claim to be (bad magic, bad gzip, bad sizes).
        case corrupt
        /// A text file (CSV) that does not parse.
        case parse
        /// A cell with no value where one is needed.
        case missingValue
        /// A downloaded file whose SHA-256 is not the published one.
        case checksumMismatch
        /// The network could not deliver a file.
        case download
        /// Arguments that do not fit the data (an unknown column, a category never seen).
        case invalidArgument
        /// A file that cannot be written (a missing or read-only folder, a full disk).
        case writeFailed
    }

    public var kind: Kind
    /// The file (its path) or data source the error is about.
    public var file: String
    /// 1-based line in a text file.
    public var line: Int?
    /// The column, by name where there is a header (`"age" (column 3)`).
    public var column: String?
    public var message: String

    public init(_ kind: Kind, file: String, line: Int? = nil, column: String? = nil, _ message: String) {
        self.kind = kind
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        var place = file
        if let line { place += ", line \(line)" }
        if let column { place += ", column \(column)" }
        return "\(place): \(message)"
    }
}

extension DataError: LocalizedError {
    public var errorDescription: String? { description }
}
