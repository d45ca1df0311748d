"""Request plumbing every audience shares: sessions, security headers, errors,
uploads, layout, access checks, form fields and labels. It imports no audience."""
