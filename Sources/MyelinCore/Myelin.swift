/// Library-wide facts.
public enum Myelin {
    public static let version = "0.1.0"
}
