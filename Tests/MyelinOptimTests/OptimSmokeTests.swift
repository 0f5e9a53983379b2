import Testing
import Myelin

@Suite struct OptimSmokeTests {
    @Test func moduleLinks() { #expect(MyelinLibrary.version.isEmpty == false) }
}
