using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using EdgeCache.FunctionalTests.Infrastructure;
using EdgeCache.Proxy;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeCache.FunctionalTests;

/// <summary>The admin status page, end to end in headless Chromium (Debian's chromium package).</summary>
[Collection(CdnFixtureGroup.Name)]
public sealed partial class StatusPageTests(Topology cdn)
{
    private const string Chromium = "/usr/bin/chromium";

    [Fact]
    public async Task The_status_page_charts_the_traffic_this_test_generated()
    {
        Assert.True(File.Exists(Chromium), "Debian's chromium package is needed (.ci/run installs it).");
        var admin = cdn.Edges[0].Services.GetRequiredService<NodeEndpoints>().AdminUri!;
        var path = "/status-page/" + Guid.NewGuid().ToString("N");
        cdn.Origin.MapStatic(path, "x", ("Cache-Control", "max-age=600"));
        var before = await SampledRequests(admin);
        for (var i = 0; i < 40; i++) (await cdn.GetAsync(0, path)).Dispose();

        // The sampler has recorded them.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (await SampledRequests(admin) - before < 40)
        {
            Assert.True(DateTime.UtcNow < deadline, "the status history never showed the requests");
            await Task.Delay(50);
        }

        var dom = await RunChromium(admin, "--dump-dom");
        Assert.Contains("data-loaded=\"true\"", dom, StringComparison.Ordinal);
        var match = PointsOf("rps-line").Match(dom);
        Assert.True(match.Success, "the request-rate chart is drawn");
        var points = int.Parse(match.Groups[1].Success ? match.Groups[1].Value : match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(points >= 2, $"{points} points on the request-rate chart");
        var rps = double.Parse(Regex.Match(dom, "id=\"rps-value\">([0-9.]+)<").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(rps > 0, "the request rate shows the test's traffic");
        Assert.Matches("id=\"hit-ratio-value\">[0-9]+%<", dom);
        Assert.Contains("shield-a", dom, StringComparison.Ordinal);
        Assert.Contains("EdgeCache edge edge-1", dom, StringComparison.Ordinal);

        var png = Path.Combine(AppContext.BaseDirectory, "status-page.png");
        File.Delete(png);
        await RunChromium(admin, "--screenshot=" + png, "--window-size=1200,700");
        Assert.True(new FileInfo(png).Length > 10_000, "a screenshot of the rendered page");
    }

    private async Task<long> SampledRequests(Uri admin)
    {
        using var doc = JsonDocument.Parse(await cdn.Client.GetStringAsync(new Uri(admin, "/status.json")));
        return doc.RootElement.GetProperty("samples").EnumerateArray().Sum(s => s.GetProperty("requests").GetInt64());
    }

    private static async Task<string> RunChromium(Uri admin, params string[] args)
    {
        var profile = Directory.CreateTempSubdirectory("edgecache-chromium-");
        try
        {
            var start = new ProcessStartInfo(Chromium) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in (string[])["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--user-data-dir=" + profile.FullName,
                "--virtual-time-budget=3000"])
            {
                start.ArgumentList.Add(a);
            }

            foreach (var a in args) start.ArgumentList.Add(a);
            start.ArgumentList.Add(admin.ToString());
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(timeout.Token);
            Assert.True(process.ExitCode == 0, "chromium failed: " + await stderr);
            return await stdout;
        }
        finally
        {
            profile.Delete(recursive: true);
        }
    }

    private static Regex PointsOf(string id) => new($"id=\"{id}\"[^>]*data-points=\"([0-9]+)\"|data-points=\"([0-9]+)\"[^>]*id=\"{id}\"");
}
