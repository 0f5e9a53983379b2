import Testing
import Myelin

@Suite struct DataSmokeTests {
    @Test func moduleLinks() { #expect(MyelinLibrary.version.isEmpty == false) }
}
