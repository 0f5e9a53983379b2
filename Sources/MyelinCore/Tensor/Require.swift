/// Checks how the API is used (shapes, axes, indices). Unlike `precondition`, whose
/// message optimised builds drop, this prints its message in release builds too, so a
/// user always sees which op failed and with which shapes.
@inlinable @inline(__always)
public func require(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
    file: StaticString = #fileID, line: UInt = #line
) {
    if _slowPath(!condition()) { fatalError(message(), file: file, line: line) }
}

/// Stops with a message that survives optimised builds (see `require`).
@inlinable
public func requirementFailure(_ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) -> Never {
    fatalError(message(), file: file, line: line)
}
