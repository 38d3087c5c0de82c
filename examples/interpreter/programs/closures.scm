;; closures: first-class procedures with lexical scope, captured and mutable state, higher-order
;; helpers, message-passing objects, and many short-lived closures for the collector to reclaim.
(define (say . items) (for-each display items) (newline))

(define (compose . fs)
  (if (null? fs)
      (lambda (x) x)
      (lambda (x) ((car fs) ((apply compose (cdr fs)) x)))))
(define (curry f . early) (lambda late (apply f (append early late))))
(define add1 (curry + 1))
(define double (curry * 2))
(say "compose: " ((compose add1 double) 20) " " ((compose double add1) 20))

;; A bank account as a closure over its balance, answering messages.
(define (make-account balance)
  (define (withdraw amount)
    (if (> amount balance)
        (error "insufficient funds" balance amount)
        (begin (set! balance (- balance amount)) balance)))
  (define (deposit amount) (set! balance (+ balance amount)) balance)
  (lambda (message . args)
    (cond ((eq? message 'withdraw) (apply withdraw args))
          ((eq? message 'deposit) (apply deposit args))
          ((eq? message 'balance) balance)
          (else (error "unknown message" message)))))
(define acc (make-account 100))
(acc 'deposit 50)
(acc 'withdraw 30)
(say "balance: " (acc 'balance))
(say "overdraw: " (guard (e (#t (cons (error-object-message e) (error-object-irritants e))))
                    (acc 'withdraw 1000)))

;; A generator: each call returns the next Fibonacci number.
(define (fibonacci-generator)
  (let ((a 0) (b 1))
    (lambda ()
      (let ((next a))
        (set! a b)
        (set! b (+ next b))
        next))))
(define fib (fibonacci-generator))
(say "fibonacci: " (map (lambda (i) (fib)) (iota 12)))

;; Each closure made in a loop captures its own binding.
(define thunks (map (lambda (i) (lambda () (* i i))) (iota 6)))
(say "captured: " (map (lambda (t) (t)) thunks))

;; letrec and mutual recursion, in tail position (constant stack for a million steps).
(letrec ((even? (lambda (n) (if (= n 0) #t (odd? (- n 1)))))
         (odd? (lambda (n) (if (= n 0) #f (even? (- n 1))))))
  (say "even? 1000001: " (even? 1000001)))

;; 20000 short-lived closures: the heap is 256 KB, so the collector reclaims them as it goes.
(define (sum-of-adders n)
  (let loop ((i 0) (total 0))
    (if (= i n)
        total
        (let ((adder (lambda (x) (+ x i))))
          (loop (+ i 1) (adder total))))))
(define collections-before (cdr (assq 'collections (heap-counters))))
(say "sum of adders: " (sum-of-adders 20000))
(say "collected while running: " (> (cdr (assq 'collections (heap-counters))) collections-before))
(say "fold: " (fold (lambda (x acc) (+ acc (* x x))) 0 (iota 10)))
(say "filter: " (filter odd? (iota 10)))
