import CZlib
/// The zlib version linked at run time (for diagnostics).
public var zlibVersion: String { String(cString: CZlib.zlibVersion()) }
