// The shop the simulator pretends to be: pages, categories, reasons, and the like.
export const pages = ['/', '/products', '/product-detail', '/cart', '/checkout', '/search', '/deals'] as const
export const categories = ['electronics', 'clothing', 'books', 'home', 'sports', 'beauty', 'toys'] as const
export const devices = ['mobile', 'desktop', 'tablet'] as const
export const referrers = ['google', 'facebook', 'instagram', 'direct', 'email', 'bing'] as const
export const platforms = ['web', 'ios', 'android'] as const
export const paymentMethods = ['credit_card', 'debit_card', 'paypal', 'apple_pay', 'bank_transfer'] as const
export const paymentFailureReasons = ['insufficient_funds', 'card_expired', 'card_declined', 'fraud_suspected'] as const
export const cancelReasons = ['changed_mind', 'found_cheaper', 'shipping_delay', 'ordered_by_mistake'] as const
export const ticketCategories = ['delivery', 'billing', 'product_quality', 'returns', 'account', 'technical'] as const
export const ticketPriorities = ['low', 'medium', 'high', 'urgent'] as const
export const ticketChannels = ['email', 'chat', 'phone'] as const
export const campaignTypes = ['newsletter', 'promotion', 'cart_reminder', 'winback', 'product_launch'] as const
export const cartStages = ['cart', 'shipping', 'payment'] as const
export const refundReasons = ['damaged', 'not_as_described', 'late_delivery', 'changed_mind'] as const
export const plans = ['basic', 'plus', 'premium'] as const
export const subscriptionCancelReasons = ['too_expensive', 'not_using', 'switched_competitor', 'poor_service'] as const

export const pad = (n: number, width: number): string => String(n).padStart(width, '0')
/** `CUST-001` as the Kafka event system writes it (at least three digits, more past 999). */
export const customerId = (n: number): string => `CUST-${pad(n, 3)}`
export const productCode = (n: number): string => `PROD-${pad(n, 4)}`
