namespace EdgeCache.FunctionalTests.Infrastructure;

public static class ResponseExtensions
{
    public static string Header(this HttpResponseMessage response, string name)
    {
        if (response.Headers.TryGetValues(name, out var v)) return string.Join(", ", v);
        if (response.Content.Headers.TryGetValues(name, out var c)) return string.Join(", ", c);
        return "";
    }

    /// <summary>The last Cache-Status member: this response's edge entry.</summary>
    public static string EdgeStatus(this HttpResponseMessage response)
    {
        var all = response.Header("Cache-Status");
        var i = all.LastIndexOf("EdgeCache-Edge", StringComparison.Ordinal);
        return i < 0 ? "" : all[i..];
    }

    public static string ShieldStatus(this HttpResponseMessage response)
    {
        var all = response.Header("Cache-Status");
        var i = all.IndexOf("EdgeCache-Shield", StringComparison.Ordinal);
        if (i < 0) return "";
        var end = all.IndexOf(", EdgeCache-Edge", i, StringComparison.Ordinal);
        return end < 0 ? all[i..] : all[i..end];
    }

    public static Task<string> BodyAsync(this HttpResponseMessage response) => response.Content.ReadAsStringAsync();
}
