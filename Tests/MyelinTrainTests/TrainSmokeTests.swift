import Testing
import Myelin

@Suite struct TrainSmokeTests {
    @Test func moduleLinks() { #expect(MyelinLibrary.version.isEmpty == false) }
}
