import Testing
import Myelin

@Suite struct IOSmokeTests {
    @Test func moduleLinks() { #expect(MyelinLibrary.version.isEmpty == false) }
}
