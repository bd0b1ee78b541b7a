namespace EdgeCache.Engine;

/// <summary>Which fields carry the client's address, scheme and host to the upstream.</summary>
public enum ForwardedFormat
{
    /// <summary><c>X-Forwarded-For</c>, <c>X-Forwarded-Proto</c> and <c>X-Forwarded-Host</c> (the de facto
    /// fields, what YARP and ASP.NET Core's ForwardedHeaders use by default).</summary>
    XForwarded,

    /// <summary>The standard <c>Forwarded</c> field (RFC 7239): <c>for=…;proto=…;host=…</c>.</summary>
    Forwarded,

    /// <summary>Both of the above.</summary>
    Both,

    /// <summary>Neither: the upstream sees no forwarding fields at all.</summary>
    None,
}
