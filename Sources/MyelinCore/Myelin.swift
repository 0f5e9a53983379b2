/// Library-wide facts.
public enum MyelinLibrary {
    public static let version = "0.1.0"
}
